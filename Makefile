# flymalloc build.  `make` builds the libraries and the launcher into build/;
# `make test` runs the whole test suite; `make bench` the benchmarks.
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror
LIBFLAGS = -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
           -fno-builtin-malloc -fno-builtin-free -fno-stack-protector \
           -fno-semantic-interposition -fno-tree-slp-vectorize -Iinclude -Isrc
B        = build

SRCS     = $(wildcard src/*.c)
OBJS     = $(SRCS:src/%.c=$(B)/obj/%.o)
POBJS    = $(SRCS:src/%.c=$(B)/pobj/%.o)
TOBJS    = $(SRCS:src/%.c=$(B)/tsan/%.o)
UOBJS    = $(SRCS:src/%.c=$(B)/ubsan/%.o)
HDRS     = $(wildcard src/*.h) src/options.def src/policies.def include/flymalloc.h

.PHONY: all test bench bench-deps clean
all: $(B)/libflymalloc.so $(B)/libflymalloc.a $(B)/libflymalloc-prefixed.a \
     $(B)/libflymalloc-tsan.a $(B)/libflymalloc-ubsan.a $(B)/flymalloc

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIBFLAGS) -c $< -o $@
$(B)/pobj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIBFLAGS) -DFLY_PREFIXED_ONLY -c $< -o $@
$(B)/tsan/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(LIBFLAGS) -DFLY_PREFIXED_ONLY -DFLY_TSAN -fsanitize=thread -c $< -o $@
$(B)/ubsan/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(LIBFLAGS) -DFLY_PREFIXED_ONLY -DFLY_DEBUG -fsanitize=undefined \
	    -fno-sanitize-recover=undefined -c $< -o $@

$(B)/libflymalloc.so: $(OBJS)
	$(CC) -shared -Wl,-z,now -Wl,-soname,libflymalloc.so -o $@ $^ -lpthread
$(B)/libflymalloc.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^
$(B)/libflymalloc-prefixed.a: $(POBJS)
	rm -f $@ && ar rcs $@ $^
$(B)/libflymalloc-tsan.a: $(TOBJS)
	rm -f $@ && ar rcs $@ $^
# UBSan and the debug assertions (among them: no lock held on entry to the
# os layer), for the unit and stress tests.
$(B)/libflymalloc-ubsan.a: $(UOBJS)
	rm -f $@ && ar rcs $@ $^
TOOL_SRCS = $(wildcard tools/*.c)
# The library's profile reader and dispatch rule, shared with the launcher.
TOOL_LIBSRCS = src/profile.c src/catalog.c src/panic.c
$(B)/flymalloc: $(TOOL_SRCS) $(TOOL_LIBSRCS) $(HDRS) $(wildcard tools/*.h)
	$(CC) $(CFLAGS) -std=gnu11 $(WARN) -Iinclude -Itools -Isrc -o $@ $(TOOL_SRCS) $(TOOL_LIBSRCS) -lpthread -lm

test: all
	bash tests/run.sh

bench: all
	bash bench/run.sh

bench-deps:
	apt-get update && apt-get install -y libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 valgrind time

clean:
	rm -rf $(B)
