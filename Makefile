# gatewayd - see README.md.  The two commands are `make run` and `make test`;
# both install what is missing first (`make deps`, apt-get, needs root).
#
# Builds go to $(BUILD) (build/ by default).  `make test` builds a second,
# instrumented tree in build/san (ASan + UBSan) and runs every suite there.

BUILD ?= build
SAN ?= 0
CC ?= cc

PKGS := openssl libxml-2.0 xmlsec1-openssl libcurl libevent libevent_openssl \
	libevent_pthreads sqlite3
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wimplicit-fallthrough -Werror
INC := -Igateway -Icrypto -Icerts -Iprofiles -I$(BUILD)/gen
ifeq ($(SAN),1)
OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
else
OPT := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDSAN := -pie -Wl,-z,relro,-z,now
endif
CFLAGS := -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(INC)
LDFLAGS := -pthread $(LDSAN)

LIB_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c)) \
	$(wildcard crypto/*.c) $(wildcard certs/*.c) $(wildcard profiles/*.c)
GEN_SRC := $(BUILD)/gen/schemas.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/schemas.o
GWCTL_SRC := $(wildcard gwctl/*.c)
GWCTL_OBJ := $(GWCTL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TESTUTIL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/unit/testutil.c))
SCHEMAS := $(wildcard gateway/schemas/*.xsd)

.PHONY: all deps run test unit bench clean fuzz
all: $(BUILD)/gatewayd $(BUILD)/gwctl

deps:
	@sh tools/deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard */*.h) $(BUILD)/gen/schemas.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/gen/schemas.c $(BUILD)/gen/schemas.h &: $(SCHEMAS) tools/embed.sh
	@mkdir -p $(BUILD)/gen
	sh tools/embed.sh $(BUILD)/gen/schemas $(SCHEMAS)

$(BUILD)/obj/gen/schemas.o: $(BUILD)/gen/schemas.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libgw.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/gatewayd: $(BUILD)/obj/gateway/main.o $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/gwctl: $(GWCTL_OBJ) $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTUTIL_OBJ) $(BUILD)/libgw.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

unit: $(TEST_BIN)

# Everything a test run needs, built with the sanitizers.
test: deps
	$(MAKE) BUILD=build/san SAN=1 all unit
	sh tests/run.sh build/san

run: deps
	$(MAKE) all
	$(BUILD)/gatewayd --dev var/dev

# The load generator: bench/loadgen.c, signs with the library's crypto.
$(BUILD)/loadgen: $(BUILD)/obj/bench/loadgen.o $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: deps
	$(MAKE) all $(BUILD)/loadgen
	sh bench/run.sh $(BUILD)
	sh bench/delivery.sh $(BUILD)
	sh bench/attach.sh $(BUILD)

# libFuzzer harnesses for parsers of untrusted bytes (clang; not part of
# make test).  Run e.g. build/fuzz/fuzz_multipart -max_total_time=60.
fuzz: $(BUILD)/obj/gen/schemas.o
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)" >&2; exit 1; }
	mkdir -p build/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Igateway -Icrypto \
	    fuzz/fuzz_multipart.c gateway/multipart.c gateway/util.c gateway/err.c \
	    $(shell pkg-config --cflags --libs openssl libxml-2.0) -o build/fuzz/fuzz_multipart
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Igateway -Icrypto -Icerts \
	    fuzz/fuzz_attach_doc.c crypto/attach.c crypto/xmlenc.c crypto/xmlparse.c \
	    crypto/keys.c certs/pki.c gateway/util.c gateway/err.c \
	    $(shell pkg-config --cflags --libs openssl libxml-2.0) -o build/fuzz/fuzz_attach_doc
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Igateway -Icrypto -Icerts \
	    -I$(BUILD)/gen $(shell pkg-config --cflags xmlsec1-openssl) fuzz/fuzz_xml_verify.c \
	    crypto/xmldsig.c crypto/dsig_check.c crypto/c14n.c crypto/policy.c \
	    crypto/xmlparse.c crypto/keys.c crypto/inspect.c crypto/cms.c \
	    certs/chain.c certs/revocation.c certs/certcache.c certs/fetch.c \
	    gateway/util.c gateway/err.c $(BUILD)/obj/gen/schemas.o \
	    $(shell pkg-config --libs openssl libxml-2.0 xmlsec1-openssl libcurl) \
	    -o build/fuzz/fuzz_xml_verify

clean:
	rm -rf build
