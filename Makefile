# tllm: build, test, demo, install, bench, fuzz. `make demo` and `make test` are the README's contract.
# Real models and text come from ../shared (or $(SHARED)); targets that need them say so when it is absent.

PREFIX   ?= /usr/local
SHARED   ?= $(abspath ../shared)
MODELS   ?= $(if $(TLLM_MODELS),$(TLLM_MODELS),$(SHARED)/models)
SWIFT    ?= swift
CONFIG   ?= release
BIN       = .build/$(CONFIG)
TOOLS     = tllm-convert tllm-calib tllm-ternarize tllm-pack tllm-gen
OUT      ?= out
FUZZ_SECONDS ?= 60

.PHONY: all build deps test demo install man bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG)

# The whole suite, optimized (the numeric tests, e.g. perplexity over all of calib.txt, are 100x slower
# unoptimized); the tool tests run the release binaries built beside the test bundle.
TESTFLAGS = -c release -Xswiftc -enable-testing
test: deps
	$(SWIFT) build $(TESTFLAGS) --build-tests
	TLLM_SHARED=$(SHARED) TLLM_SLOW_TESTS=1 $(SWIFT) test $(TESTFLAGS) --skip-build

demo: build
	@bash scripts/demo.sh "$(BIN)" "$(MODELS)" "$(OUT)/demo"

# Man pages generated from the command definitions (swift-argument-parser's generate-manual).
man: deps
	@mkdir -p man
	$(SWIFT) package generate-manual --date 2026-11-30 --authors "tllm developers" >/dev/null
	@# (generate-manual puts a spurious "Ar subcommand" in the synopsis of commands without subcommands)
	@for t in $(TOOLS); do sed '/^\.Ar subcommand$$/d' .build/plugins/GenerateManual/outputs/$$t/$$t.1 > man/$$t.1 || exit 1; done
	@echo "man pages written to man/"

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	for t in $(TOOLS); do install -m 755 $(BIN)/$$t $(DESTDIR)$(PREFIX)/bin/$$t; done
	for m in man/*.1; do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done
	for m in $(wildcard man/*.7); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man7/; done

# Benchmarks: never part of `make test`; ratios measured in one run.
bench: build
	@bash scripts/bench-convert.sh "$(BIN)" bench-data
	@bash scripts/bench-tokenizer.sh "$(BIN)" "$(SHARED)" bench-data
	@bash scripts/bench-gen.sh "$(BIN)" bench-data
	@BIN=$(BIN) BENCH_DIR=$(abspath bench-data)/pack bash scripts/pack/bench.sh

# libFuzzer over the GGUF, safetensors and container parsers ($(FUZZ_SECONDS) s each).
fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build $(OUT) bench-data Fuzz/.build
