# walstar: one build for every part.
#
#   make            build the decoder plugin, the sink and archive daemons and the
#                   extensions
#   make install    install them (PostgreSQL's pkglibdir/sharedir, $(bindir))
#   make installcheck  the cross-part pg_regress suites (sql/, expected/)
#   make deps       install missing Debian packages and fetch the Kafka broker jars
#   make test       deps + build + install + every suite (pg_regress, unit, TAP,
#                   the alert rules' promtool tests)
#   make demo       deps + build + install + the Acme claims demo end to end
#                   (DEMO_BROKERS=3 make demo: on a 3-node Kafka cluster;
#                   make demo MODEL=booking or MODEL=ratings: the other models)
#   make asan-test  the sink's TAP suites with an AddressSanitizer build of walstar-sink
#   make valgrind-test  the decoder's pg_regress suites with the server under valgrind
#   make fuzz       the libFuzzer targets (fuzz/), FUZZ_TIME seconds each (default 60)
#   make dist       the PGXN release zip walstar-<version>.zip (git archive of HEAD)
#   make deb        the Debian packages (debian/, pg_buildext) into .cache/deb
#   make test-packages  make deb, then the packages' files on clean clusters
#
# Each part (decoder/, sink/, extension/) has its own Makefile (PGXS for the
# PostgreSQL parts) with the targets all, install, installcheck and clean;
# this file only orders them. The protobuf-c code is generated here from
# proto/walstar.proto, once, for every part.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG

PARTS := $(patsubst %/Makefile,%,$(wildcard decoder/Makefile sink/Makefile archive/Makefile extension/Makefile extension/walstar_claims/Makefile extension/walstar_booking/Makefile extension/walstar_ratings/Makefile))
# The cross-part pg_regress suites in sql/ + expected/ (the parts' own
# suites stay with them); `make installcheck` runs them in a temporary
# instance configured by regress.conf.
REGRESS = pipeline

# WITHOUT_SINK=1: only the PostgreSQL parts (the Debian packages build the
# daemons once, apart from the per-major builds)
ifdef WITHOUT_SINK
PARTS := $(filter-out sink archive,$(PARTS))
endif
PROTO_GEN := proto/walstar.pb-c.c proto/walstar.pb-c.h

.PHONY: all install installcheck clean deps test demo dist deb test-packages check-format check-ops asan-test valgrind-test fuzz $(PARTS)

all: $(PARTS)

$(PARTS): $(PROTO_GEN)
	$(MAKE) -C $@ all

$(PROTO_GEN): proto/walstar.proto
	protoc-c --proto_path=proto --c_out=proto walstar.proto

install: all
	@set -e; for d in $(PARTS); do $(MAKE) -C $$d install; done

clean:
	@set -e; for d in $(PARTS); do $(MAKE) -C $$d clean; done
	rm -f $(PROTO_GEN)

deps:
	regress/deps.sh

FUZZ_TIME ?= 60

test: deps
	regress/check_format.sh
	regress/check_ops.sh
	$(MAKE) dist && rm -f walstar-$(DIST_VERSION).zip
	$(MAKE) all
	$(MAKE) install
	fuzz/run.sh 10
	regress/run_tests.sh $(PARTS) .
	$(MAKE) test-packages

fuzz: deps $(PROTO_GEN)
	fuzz/run.sh $(FUZZ_TIME)

# The PostgreSQL-side modules run inside a server that is not built with
# ASan (preloading the runtime into initdb hangs it), so they are checked
# under valgrind instead; the daemon is a program of its own.
asan-test: deps $(PROTO_GEN)
	$(MAKE) -C sink clean
	$(MAKE) -C sink all COPT='-fsanitize=address,undefined -fno-omit-frame-pointer'
	$(MAKE) -C sink install
	WALSTAR_TAP=_sink_ regress/run_tests.sh sink; status=$$?; \
	  $(MAKE) -C sink clean; $(MAKE) -C sink all install; exit $$status

valgrind-test: deps all install
	$(MAKE) -C decoder valgrind

demo: deps
	$(MAKE) all
	$(MAKE) install
	demo/run.sh $(MODEL)

installcheck:
	WALSTAR_NO_TAP=1 regress/run_tests.sh .

check-format:
	regress/check_format.sh

check-ops:
	regress/check_ops.sh

# The release zip PGXN takes: the committed tree under walstar-<version>/,
# META.json at its top; check_dist.sh checks it against META.json.
DIST_VERSION = $(shell sed -n 's/^   "version": "\(.*\)",$$/\1/p' META.json)

dist:
	git archive --format=zip --prefix=walstar-$(DIST_VERSION)/ -o walstar-$(DIST_VERSION).zip HEAD
	regress/check_dist.sh walstar-$(DIST_VERSION).zip

# Debian packages from the tracked files as they are (committed or not),
# built in a copy under .cache/deb/build: postgresql-<major>-walstar per
# major in debian/pgversions, walstar-sink and walstar-archive.
DEB_DIR = .cache/deb

deb: deps
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/build
	tree=$$(git stash create); git archive --prefix=walstar-$(DIST_VERSION)/ $${tree:-HEAD} | tar -x -C $(DEB_DIR)/build
	cd $(DEB_DIR)/build/walstar-$(DIST_VERSION) && dpkg-buildpackage -us -uc -b
	mv $(DEB_DIR)/build/*.deb $(DEB_DIR)/
	ls $(DEB_DIR)/*.deb

# The packages installed on clean clusters without touching the system: a
# copy of the PostgreSQL server's files with the packages extracted over it
# (dpkg -x), used by regress/t/090_packages.pl.
PKG_PG = 15
PKG_ROOT = $(DEB_DIR)/root

test-packages: deb
	rm -rf $(PKG_ROOT)
	mkdir -p $(PKG_ROOT)/usr/lib/postgresql $(PKG_ROOT)/usr/share/postgresql
	cp -a /usr/lib/postgresql/$(PKG_PG) $(PKG_ROOT)/usr/lib/postgresql/
	cp -a /usr/share/postgresql/$(PKG_PG) $(PKG_ROOT)/usr/share/postgresql/
	rm -f $(PKG_ROOT)/usr/lib/postgresql/$(PKG_PG)/lib/walstar* \
		$(PKG_ROOT)/usr/share/postgresql/$(PKG_PG)/extension/walstar*
	for d in $(DEB_DIR)/postgresql-$(PKG_PG)-walstar_*.deb $(DEB_DIR)/walstar-sink_*.deb \
		$(DEB_DIR)/walstar-archive_*.deb; do \
		dpkg -x $$d $(PKG_ROOT) || exit 1; done
	chmod -R a+rX $(DEB_DIR)
	WALSTAR_PKG_ROOT=$(abspath $(PKG_ROOT)) WALSTAR_TAP=090_packages regress/run_tests.sh
