/*-------------------------------------------------------------------------
 *
 * encode_proto.h
 *		Protobuf encoding of Values by hand, byte for byte what protobuf-c
 *		writes (encode_proto.c says why).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALSTAR_ENCODE_PROTO_H
#define WALSTAR_ENCODE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "walstar.pb-c.h"

/* A varint: its size, and writing it at p (returns the end). */
extern size_t encode_proto_varint_size(uint64_t v);
extern char *encode_proto_varint(char *p, uint64_t v);

/* One Value's message body: its size, and writing it at p. */
extern size_t encode_proto_value_size(const Walstar__V1__Value *v);
extern char *encode_proto_value(char *p, const Walstar__V1__Value *v);

/*
 * n Values as the repeated message field `field`: the bytes needed (each
 * value's size remembered in sizes[], n entries), then writing them at p
 * (returns the end).
 */
extern size_t encode_proto_values_size(uint32_t field, size_t n,
									   Walstar__V1__Value **values,
									   uint32_t *sizes);
extern char *encode_proto_values(char *p, uint32_t field, size_t n,
								 Walstar__V1__Value **values,
								 const uint32_t *sizes);

#endif							/* WALSTAR_ENCODE_PROTO_H */
