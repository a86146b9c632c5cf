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
AOBJS    = $(SRCS:src/%.c=$(B)/asan/%.o)
HDRS     = $(wildcard src/*.h) src/options.def src/policies.def include/flymalloc.h

# The library's version; its SONAME is libflymalloc.so.$(SOMAJOR).
VERSION  = 1.0.0
SOMAJOR  = 1

# Installation (make install, make uninstall): the usual variables.
PREFIX     ?= /usr/local
MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null)
LIBDIR     ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
BINDIR     ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
DOCDIR     ?= $(DATADIR)/doc/flymalloc
MANDIR     ?= $(DATADIR)/man
COMPLETIONDIR ?= $(DATADIR)/bash-completion/completions
DESTDIR    ?=

.PHONY: all test bench bench-deps clean install uninstall
all: $(B)/libflymalloc.so $(B)/libflymalloc-secure.so $(B)/libflymalloc.a $(B)/libflymalloc-prefixed.a \
     $(B)/libflymalloc-tsan.a $(B)/libflymalloc-ubsan.a $(B)/libflymalloc-asan.a $(B)/flymalloc \
     $(B)/man/flymalloc.7

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

$(B)/asan/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) -O1 -g $(LIBFLAGS) -DFLY_PREFIXED_ONLY -DFLY_DEBUG -fsanitize=address,undefined \
	    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -c $< -o $@

$(B)/libflymalloc.so: $(OBJS)
	$(CC) -shared -Wl,-z,now -Wl,-soname,libflymalloc.so.$(SOMAJOR) -o $@ $^ -lpthread
	ln -sf libflymalloc.so $(B)/libflymalloc.so.$(SOMAJOR)
# The same library with the secure mode always on (docs/security.md): only
# init.c differs.
$(B)/obj/init-secure.o: src/init.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIBFLAGS) -DFLY_SECURE_BUILD -c $< -o $@
$(B)/libflymalloc-secure.so: $(filter-out $(B)/obj/init.o,$(OBJS)) $(B)/obj/init-secure.o
	$(CC) -shared -Wl,-z,now -Wl,-soname,libflymalloc-secure.so.$(SOMAJOR) -o $@ $^ -lpthread
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
# AddressSanitizer and UBSan, for the stress tests (tests/debug/test_asan_stress.sh).
$(B)/libflymalloc-asan.a: $(AOBJS)
	rm -f $@ && ar rcs $@ $^
TOOL_SRCS = $(wildcard tools/*.c)
# The library's profile reader and dispatch rule, shared with the launcher.
TOOL_LIBSRCS = src/profile.c src/catalog.c src/panic.c src/numa.c src/os.c
TOOL_FLAGS = $(CFLAGS) -std=gnu11 $(WARN) -Iinclude -Itools -Isrc -DFLY_VERSION='"$(VERSION)"'
$(B)/flymalloc: $(TOOL_SRCS) $(TOOL_LIBSRCS) $(HDRS) $(wildcard tools/*.h)
	$(CC) $(TOOL_FLAGS) -o $@ $(TOOL_SRCS) $(TOOL_LIBSRCS) -lpthread -lm
# The installed launcher finds the installed library and scripts (the one in
# build/ finds those beside it, in the checkout).
$(B)/install/flymalloc: $(TOOL_SRCS) $(TOOL_LIBSRCS) $(HDRS) $(wildcard tools/*.h) FORCE
	@mkdir -p $(@D)
	$(CC) $(TOOL_FLAGS) -DFLY_INSTALL_LIB='"$(LIBDIR)/libflymalloc.so.$(SOMAJOR)"' \
	    -DFLY_INSTALL_DATA='"$(DATADIR)/flymalloc"' -o $@ $(TOOL_SRCS) $(TOOL_LIBSRCS) -lpthread -lm
FORCE:

# flymalloc(7)'s SETTINGS section comes from the options table.
$(B)/man/flymalloc.7: man/flymalloc.7.in man/settings.c src/options.def
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -Isrc -o $(B)/man/settings man/settings.c
	$(B)/man/settings > $(B)/man/settings.roff
	sed -e '/@SETTINGS@/{r $(B)/man/settings.roff' -e 'd}' man/flymalloc.7.in > $@

# Template values for the pkg-config and CMake files.
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
            -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
            -e 's|@SOMAJOR@|$(SOMAJOR)|g'
INSTALLED_DOCS = README.md docs/design.md docs/measuring.md docs/policies.md docs/trace-format.md \
                 docs/benchmarks.md docs/numa.md docs/tuning.md docs/security.md

# What install needs (not the sanitizer builds, which are only for tests).
INSTALLABLES = $(B)/libflymalloc.so $(B)/libflymalloc-secure.so $(B)/libflymalloc.a $(B)/libflymalloc-prefixed.a \
               $(B)/man/flymalloc.7 $(B)/install/flymalloc
install: $(INSTALLABLES)
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/flymalloc \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(DATADIR)/flymalloc/tools \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(COMPLETIONDIR)
	install -m 644 man/flymalloc.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 pkg/flymalloc.bash-completion $(DESTDIR)$(COMPLETIONDIR)/flymalloc
	install -m 644 man/flymalloc.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(B)/man/flymalloc.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 755 $(B)/libflymalloc.so $(DESTDIR)$(LIBDIR)/libflymalloc.so.$(VERSION)
	ln -sf libflymalloc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libflymalloc.so.$(SOMAJOR)
	ln -sf libflymalloc.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libflymalloc.so
	install -m 755 $(B)/libflymalloc-secure.so $(DESTDIR)$(LIBDIR)/libflymalloc-secure.so.$(VERSION)
	ln -sf libflymalloc-secure.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libflymalloc-secure.so.$(SOMAJOR)
	ln -sf libflymalloc-secure.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libflymalloc-secure.so
	install -m 644 $(B)/libflymalloc.a $(B)/libflymalloc-prefixed.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/flymalloc.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(B)/install/flymalloc $(DESTDIR)$(BINDIR)/flymalloc
	install -m 644 tools/report.py $(DESTDIR)$(DATADIR)/flymalloc/tools/
	$(SUBST) pkg/flymalloc.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/flymalloc.pc
	$(SUBST) pkg/flymalloc-config.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/flymalloc/flymalloc-config.cmake
	$(SUBST) pkg/flymalloc-config-version.cmake.in \
	    > $(DESTDIR)$(LIBDIR)/cmake/flymalloc/flymalloc-config-version.cmake
	install -m 644 $(INSTALLED_DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libflymalloc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libflymalloc.so.$(SOMAJOR) \
	    $(DESTDIR)$(LIBDIR)/libflymalloc.so $(DESTDIR)$(LIBDIR)/libflymalloc.a \
	    $(DESTDIR)$(LIBDIR)/libflymalloc-secure.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libflymalloc-secure.so.$(SOMAJOR) \
	    $(DESTDIR)$(LIBDIR)/libflymalloc-secure.so \
	    $(DESTDIR)$(LIBDIR)/libflymalloc-prefixed.a $(DESTDIR)$(INCLUDEDIR)/flymalloc.h \
	    $(DESTDIR)$(BINDIR)/flymalloc $(DESTDIR)$(LIBDIR)/pkgconfig/flymalloc.pc \
	    $(DESTDIR)$(COMPLETIONDIR)/flymalloc
	rm -f $(DESTDIR)$(MANDIR)/man1/flymalloc.1 $(DESTDIR)$(MANDIR)/man3/flymalloc.3 \
	    $(DESTDIR)$(MANDIR)/man7/flymalloc.7
	rm -rf $(DESTDIR)$(LIBDIR)/cmake/flymalloc $(DESTDIR)$(DATADIR)/flymalloc $(DESTDIR)$(DOCDIR)

test: all
	bash tests/run.sh

bench: all
	bash bench/deps.sh
	bash bench/run.sh

bench-deps:
	apt-get update && apt-get install -y libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 valgrind time

clean:
	rm -rf $(B)
