# pilot: see README.md. Every target works on a fresh clone after `npm ci`.
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
CFLAGS ?= -O2 -Wall -Wextra -Werror
NODE ?= node

BUNDLES := dist/pilot.mjs dist/pilot-launch.mjs
HELPER := dist/pilot-exec
HELPER_SOURCES := $(wildcard pilot/exec/*.c)
HELPER_HEADERS := $(wildcard pilot/exec/*.h)
# Man pages and completion scripts, generated from the built CLI's own commander
# definitions (the ones --help prints), so they cannot drift from it.
GENERATED := dist/man/pilot.1 dist/completion/pilot.bash dist/completion/_pilot
SOURCES := $(shell find src pilot -name '*.ts' 2>/dev/null)

.PHONY: all build check lint typecheck unit fuzz test integration integration-fallbacks soak bench demo examples install uninstall deb clean

all: build

build: $(BUNDLES) $(HELPER) $(GENERATED)

$(BUNDLES): $(SOURCES) build.mjs package.json
	$(NODE) build.mjs
	chmod 755 $(BUNDLES)

# Writes pilot.1 and one pilot-COMMAND.1 per command (stale pages are removed).
dist/man/pilot.1: dist/pilot.mjs
	$(NODE) dist/pilot.mjs __man dist/man

dist/completion/pilot.bash: dist/pilot.mjs
	@mkdir -p dist/completion
	$(NODE) dist/pilot.mjs completion bash > $@.tmp && mv $@.tmp $@

dist/completion/_pilot: dist/pilot.mjs
	@mkdir -p dist/completion
	$(NODE) dist/pilot.mjs completion zsh > $@.tmp && mv $@.tmp $@

# Static, so that a warm launch pays for no dynamic loader.
$(HELPER): $(HELPER_SOURCES) $(HELPER_HEADERS)
	@mkdir -p dist
	$(CC) $(CFLAGS) -static -o $@ $(HELPER_SOURCES)

lint:
	npx biome check src pilot test integration bench build.mjs

typecheck:
	npx tsc --noEmit

unit: build
	npx vitest run --dir test

check: lint typecheck unit

# The property-based tests of test/fuzz/ with 50 times the cases `unit` runs (minutes, not
# seconds): outside CI, after changing a parser of untrusted input.
fuzz: build
	PILOT_FUZZ_SCALE=50 npx vitest run --dir test/fuzz

examples:
	examples/build.sh

integration: build
	npx vitest run --config integration/vitest.config.ts

# integration/everything-at-once.test.ts with 100 rounds instead of CI's 8 (minutes):
# outside CI, after changing how commands or launches share the store. SOAK_SEED replays.
SOAK_ROUNDS ?= 100
SOAK_SEED ?= 18
soak: build
	PILOT_SOAK_ROUNDS=$(SOAK_ROUNDS) PILOT_SOAK_SEED=$(SOAK_SEED) npx vitest run \
		--config integration/vitest.config.ts integration/everything-at-once.test.ts

# Debian 12's own kernel (6.1) has no overlay lowerdir+ and no user.* xattrs on tmpfs;
# PILOT_FORCE_FALLBACKS=1 makes pilot-exec's probes (pilot/exec/kernel.c) say no, so
# that a newer kernel runs those paths: pilot-exec's own tests, the launcher's and the
# fast path's, on both of the helper's ways in (the Node launcher's --environ, the stub's
# own environment).
integration-fallbacks: build
	PILOT_FORCE_FALLBACKS=1 npx vitest run --dir test/exec
	PILOT_FORCE_FALLBACKS=1 npx vitest run --config integration/vitest.config.ts \
		integration/launcher.test.ts integration/fast-path.test.ts

# What CI runs: the whole gate.
test: check integration integration-fallbacks

bench: build
	bench/run.sh

demo: build
	examples/demo.sh

# The CLI, the launcher and its exec helper live together in LIBEXECDIR: the CLI links
# apps to the launcher beside itself, the launcher runs the helper beside itself.
# bin/pilot is a relative symlink (Node resolves it, so the CLI still finds its siblings).
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec/pilot
MAN1DIR = $(PREFIX)/share/man/man1
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
# APT's hook that plans apps again after a package upgrade (packaging/apt/70pilot.in);
# installed where APT is (APT_HOOK=0 leaves it out).
APTCONFDIR = /etc/apt/apt.conf.d
APT_HOOK ?= $(if $(wildcard $(APTCONFDIR)),1,0)

# FLAKE_CTL_NAMES=1 also installs flake-pilot's names (scripts/install-names.sh):
# bin/flake-ctl (pilot at flake-ctl's command level) and bin/podman-pilot (the launcher
# flake-pilot's app links point at); refused before anything is installed when a package
# owns either path or another file is there. uninstall removes them only if still pilot's.
FLAKE_CTL_NAMES ?=
NAMES_ARGS = "$(DESTDIR)" "$(BINDIR)" "$(LIBEXECDIR)"

install: build
ifeq ($(FLAKE_CTL_NAMES),1)
	sh scripts/install-names.sh check $(NAMES_ARGS)
endif
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MAN1DIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 dist/pilot.mjs dist/pilot-launch.mjs dist/pilot-exec $(DESTDIR)$(LIBEXECDIR)/
	install -m 644 dist/pilot.mjs.map dist/pilot-launch.mjs.map $(DESTDIR)$(LIBEXECDIR)/
	install -d $(DESTDIR)$(LIBEXECDIR)/chunks
	install -m 644 dist/chunks/*.mjs dist/chunks/*.mjs.map dist/chunks/launch.cjs \
		dist/chunks/launch.cjs.map $(DESTDIR)$(LIBEXECDIR)/chunks/
	ln -sfr $(DESTDIR)$(LIBEXECDIR)/pilot.mjs $(DESTDIR)$(BINDIR)/pilot
	install -m 644 dist/man/*.1 $(DESTDIR)$(MAN1DIR)/
	install -m 644 dist/completion/pilot.bash $(DESTDIR)$(BASHCOMPDIR)/pilot
	install -m 644 dist/completion/_pilot $(DESTDIR)$(ZSHCOMPDIR)/_pilot
ifeq ($(APT_HOOK),1)
	install -d $(DESTDIR)$(APTCONFDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/apt/70pilot.in > $(DESTDIR)$(APTCONFDIR)/70pilot
	chmod 644 $(DESTDIR)$(APTCONFDIR)/70pilot
endif
ifeq ($(FLAKE_CTL_NAMES),1)
	sh scripts/install-names.sh install $(NAMES_ARGS)
endif

# dist/pilot_VERSION_ARCH.deb: what `make install PREFIX=/usr` lays down, with the
# dependencies declared and maintainer scripts (packaging/deb/) that keep the store.
deb: build
	sh scripts/build-deb.sh

uninstall:
	sh scripts/install-names.sh uninstall $(NAMES_ARGS)
	rm -f $(DESTDIR)$(BINDIR)/pilot $(DESTDIR)$(APTCONFDIR)/70pilot
	rm -f $(DESTDIR)$(LIBEXECDIR)/pilot.mjs $(DESTDIR)$(LIBEXECDIR)/pilot-launch.mjs \
		$(DESTDIR)$(LIBEXECDIR)/pilot.mjs.map $(DESTDIR)$(LIBEXECDIR)/pilot-launch.mjs.map \
		$(DESTDIR)$(LIBEXECDIR)/pilot-exec
	rm -rf $(DESTDIR)$(LIBEXECDIR)/chunks
	rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null || true
	rm -f $(DESTDIR)$(MAN1DIR)/pilot.1 $(DESTDIR)$(MAN1DIR)/pilot-*.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/pilot $(DESTDIR)$(ZSHCOMPDIR)/_pilot

clean:
	rm -rf dist build
