# tllm: build, test, demo, install, bench, fuzz. `make demo` and `make test` are the README's contract.
# Real models and text come from ../shared (or $(SHARED)); targets that need them say so when it is absent.

PREFIX   ?= /usr/local
SHARED   ?= $(abspath ../shared)
MODELS   ?= $(if $(TLLM_MODELS),$(TLLM_MODELS),$(SHARED)/models)
SWIFT    ?= swift
CONFIG   ?= release
BUILD_DIR ?= .build
BIN       = $(BUILD_DIR)/$(CONFIG)
TOOLS     = tllm-convert tllm-calib tllm-ternarize tllm-pack tllm-gen tllm-distill
OUT      ?= out
DEMO_TEXT ?= $(SHARED)/data/tinystories/calib.txt
FUZZ_SECONDS ?= 60

.PHONY: all build deps test demo example example-run install man bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG) --scratch-path $(BUILD_DIR) $(SWIFT_BUILD_FLAGS)

# The whole suite, optimized (the numeric tests, e.g. perplexity over all of calib.txt, are 100x slower
# unoptimized); the tool tests run the release binaries built beside the test bundle.
TESTFLAGS = -c release -Xswiftc -enable-testing
test: deps
	$(SWIFT) build $(TESTFLAGS) --build-tests
	TLLM_SHARED=$(SHARED) TLLM_SLOW_TESTS=1 $(SWIFT) test $(TESTFLAGS) --skip-build

# The whole pipeline on stories260K with a results table (out/demo/RESULTS.md; scripts/update-readme-results.sh
# copies it into README.md).
demo: build
	@bash scripts/demo.sh "$(BIN)" "$(MODELS)" "$(OUT)/demo" "$(DEMO_TEXT)"

# mk/tllm.mk's pattern rules on stories260K, into $(OUT)/example: float → calib → DLT → OFF → packed, each with
# its held-out perplexity; block-wise OFF (one process per block: `make -j2 example` runs two at a time); the pipe.
EXAMPLE_DIR  = $(OUT)/example
EXAMPLE_GGUF = $(MODELS)/stories260K/stories260K-F32.gguf
EXAMPLE_VARS = CALIB_TEXT=$(EXAMPLE_DIR)/fit.txt EVAL_TEXT=$(EXAMPLE_DIR)/heldout.txt GROUP=64 STEPS=100 \
               BLOCKS="0 1 2 3 4" CTX=256 CALIB_FLAGS=-q
EXAMPLE_PPL  = $(addprefix $(EXAMPLE_DIR)/stories260K,.tllm .t.tllm .off.tpk .off-blocks.tpk .pipe.tpk)
example: build
	@if [ -f "$(EXAMPLE_GGUF)" ] && [ -f "$(DEMO_TEXT)" ]; then $(MAKE) --no-print-directory example-run; \
	else echo "example: skipped: needs $(EXAMPLE_GGUF) and $(DEMO_TEXT) (../shared, or TLLM_MODELS and DEMO_TEXT)"; fi

example-run:
	$(MAKE) --no-print-directory $(EXAMPLE_VARS) $(addsuffix .ppl.json,$(EXAMPLE_PPL))
	@for f in $(EXAMPLE_PPL); do printf '%-40s PPL %s\n' "$$f" "$$(sed -n 's/^ *"ppl": \([0-9.]*\),*$$/\1/p' $$f.ppl.json)"; done

$(EXAMPLE_DIR)/stories260K.gguf:
	@mkdir -p $(@D)
	ln -sf $(abspath $(EXAMPLE_GGUF)) $@

$(EXAMPLE_DIR)/fit.txt: $(DEMO_TEXT)
	@mkdir -p $(@D)
	bash scripts/split-text.sh $< $@ $(EXAMPLE_DIR)/heldout.txt
$(EXAMPLE_DIR)/heldout.txt: $(EXAMPLE_DIR)/fit.txt ;

# The pipe: one tensor at a time through three tools (default G = 128, no calibration data).
$(EXAMPLE_DIR)/stories260K.pipe.tpk: $(EXAMPLE_DIR)/stories260K.gguf
	bash -o pipefail -c '$(BIN)/tllm-convert $< - -q | $(BIN)/tllm-ternarize - - -q | $(BIN)/tllm-pack - $@ -q'

# Man pages (mdoc) built from each release tool's own --experimental-dump-help by scripts/man/mdoc.py, which keeps
# the UTF-8 text (α, γ, Σ, ...) that swift-argument-parser's generate-manual drops. Rerun after changing any
# tool's flags or help text (HelpAndManTests fails when a page lacks a flag, the abstract or the non-ASCII text).
man: deps
	$(SWIFT) build -c release --scratch-path $(BUILD_DIR) $(SWIFT_BUILD_FLAGS)
	python3 scripts/man/mdoc.py --bin $(BUILD_DIR)/release --out man --date 2026-11-30 $(TOOLS)

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
	@BIN=$(BIN) BENCH_DIR=$(abspath bench-data)/distill bash scripts/distill/bench.sh

# libFuzzer over the GGUF, safetensors and container parsers ($(FUZZ_SECONDS) s each).
fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build $(OUT) bench-data Fuzz/.build

# The pipeline's pattern rules (a file to copy into your own Makefile), run with this checkout's tools.
TLLM_BIN ?= $(BIN)/
include mk/tllm.mk
