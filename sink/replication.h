/*-------------------------------------------------------------------------
 *
 * replication.h
 *		The libpq replication connection to the source: slot management,
 *		START_REPLICATION, reading the stream, standby status updates.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SINK_REPLICATION_H
#define SINK_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "config.h"

typedef struct SlotInfo
{
	bool	 exists;		  /* the slot is there */
	bool	 ours;			  /* its plugin is walstar_decoder */
	bool	 active;		  /* another process streams from it */
	uint64_t confirmed_flush; /* its confirmed_flush_lsn */
	char	 plugin[64];	  /* its output plugin */
	char	 database[64];	  /* its database */
} SlotInfo;

/* What replication_read found. */
typedef enum ReplicationEvent
{
	REPL_NONE,		/* nothing buffered: wait for the socket */
	REPL_DATA,		/* an XLogData record: see data, len, wal_start */
	REPL_KEEPALIVE, /* a keepalive: see wal_end, reply_requested */
	REPL_END,		/* the server ended the stream */
	REPL_ERROR		/* connection lost or protocol error */
} ReplicationEvent;

typedef struct ReplicationMessage
{
	const uint8_t *data;	  /* XLogData payload (valid until next read) */
	size_t		   len;		  /* payload length */
	uint64_t	   wal_start; /* XLogData: LSN of the record */
	uint64_t	   wal_end;	  /* keepalive: server's sent position */
	int64_t		   send_time; /* keepalive: server's clock, us since 1970 */
	bool		   reply_requested; /* keepalive: answer now */
} ReplicationMessage;

typedef struct Replication
{
	PGconn	*conn;			/* replication=database connection */
	char	*copybuf;		/* last PQgetCopyData buffer */
	bool	 streaming;		/* in COPY BOTH mode */
	char	 dbname[64];	/* database of the connection */
	char	 system_id[32]; /* IDENTIFY_SYSTEM systemid */
	uint32_t timeline;		/* IDENTIFY_SYSTEM timeline */
} Replication;

/*
 * Connect with replication=database.  On failure err holds libpq's message
 * (which never contains the password).
 */
extern bool replication_connect(Replication *r, const char *conninfo,
								char *err, size_t errlen);
extern void replication_close(Replication *r);

extern bool replication_slot_info(Replication *r, const char *slot,
								  SlotInfo *info, char *err, size_t errlen);

/*
 * Send CREATE_REPLICATION_SLOT slot LOGICAL walstar_decoder, exporting a
 * snapshot when export_snapshot, without waiting for the answer (the
 * server answers once the transactions running at the source have ended,
 * see slot_wait.c).  temporary: dropped when the connection ends.
 */
extern bool replication_create_slot_send(Replication *r, const char *slot,
										 bool temporary, bool export_snapshot,
										 char *err, size_t errlen);

/*
 * Its answer, waiting at most timeout_ms (less when a signal arrives): 1
 * created (the exported snapshot's name into snapshot, which must hold 64
 * bytes, when one was asked for), 0 still waiting, -1 failed (err).
 */
extern int replication_create_slot_result(Replication *r, int timeout_ms,
										  char	   *snapshot,
										  uint64_t *consistent_point,
										  char *err, size_t errlen);

/* Ask the server to cancel the running command. */
extern void replication_cancel(Replication *r);

extern bool replication_drop_slot(Replication *r, const char *slot, char *err,
								  size_t errlen);

/* START_REPLICATION with the decoder options of cfg. */
extern bool replication_start(Replication *r, const Config *cfg,
							  uint64_t start_lsn, char *err, size_t errlen);

/* The socket to poll for input. */
extern int replication_socket(const Replication *r);

/* Next buffered message, without blocking. */
extern ReplicationEvent replication_read(Replication		*r,
										 ReplicationMessage *msg, char *err,
										 size_t errlen);

/* Standby status update: written/flushed/applied = flush. */
extern bool replication_send_status(Replication *r, uint64_t flush,
									bool reply_requested, char *err,
									size_t errlen);

/* End the COPY stream politely (shutdown). */
extern void replication_end(Replication *r);

/*
 * Does a server message say the decoder is not allowed as an output plugin
 * (PostgreSQL 15.19+: output_plugin_libraries)?
 */
extern bool replication_plugin_not_allowed(const char *message);

/* The hint printed in that case. */
#define PLUGIN_HINT                                                           \
	"add walstar_decoder to output_plugin_libraries on the source server, "   \
	"e.g. output_plugin_libraries = 'pgoutput, test_decoding, "               \
	"walstar_decoder', and reload it"

#endif
