# pilot: see README.md. Every target works on a fresh clone after `npm ci`.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra -Werror
NODE ?= node

BUNDLES := dist/pilot.js dist/pilot-launch.js
HELPER := dist/pilot-exec
SOURCES := $(shell find src pilot -name '*.ts' 2>/dev/null)

.PHONY: all build check lint typecheck unit test integration bench demo examples install uninstall clean

all: build

build: $(BUNDLES) $(HELPER)

$(BUNDLES): $(SOURCES) build.mjs package.json
	$(NODE) build.mjs
	chmod 755 $(BUNDLES)

# Static, so that a warm launch pays for no dynamic loader.
$(HELPER): pilot/exec/pilot-exec.c
	@mkdir -p dist
	$(CC) $(CFLAGS) -static -o $@ $<

lint:
	npx biome check src pilot test integration bench build.mjs

typecheck:
	npx tsc --noEmit

unit: build
	npx vitest run --dir test

check: lint typecheck unit

examples:
	examples/build.sh

integration: build
	npx vitest run --dir integration

# What CI runs: the whole gate.
test: check integration

bench: build
	bench/run.sh

demo: build
	examples/demo.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/pilot
	install -m 755 dist/pilot.js $(DESTDIR)$(PREFIX)/libexec/pilot/pilot.js
	install -m 755 dist/pilot-launch.js $(DESTDIR)$(PREFIX)/libexec/pilot/pilot-launch.js
	install -m 755 dist/pilot-exec $(DESTDIR)$(PREFIX)/libexec/pilot/pilot-exec
	ln -sf ../libexec/pilot/pilot.js $(DESTDIR)$(PREFIX)/bin/pilot

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pilot
	rm -rf $(DESTDIR)$(PREFIX)/libexec/pilot

clean:
	rm -rf dist build
