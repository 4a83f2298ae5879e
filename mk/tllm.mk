# tllm.mk: the tllm pipeline as make pattern rules. Copy this file beside your Makefile and `include tllm.mk`
# (set the variables before the include, or on the command line). Each file name says how it was made:
#
#   model.gguf                  your model (or a Hugging Face directory: HF=path/to/dir makes $(HF_NAME).tllm)
#   model.tllm                  float container                      tllm-convert
#   model.calib.tllm            calibration data from CALIB_TEXT     tllm-calib
#   model.t.tllm                DLT fit (GROUP, INIT), refit on the calibration data    tllm-ternarize
#   model.off.tllm              OFF-distilled toward model.tllm (STEPS)                  tllm-distill
#   model.off-blocks.tllm       block-wise OFF: one process per block (BLOCKS), then --merge
#   model.off.tpk               packed (LAYOUT, HEAD); any NAME.tpk packs NAME.tllm      tllm-pack
#   model.off.tpk.ppl.json      perplexity of any model file on EVAL_TEXT (CTX)          tllm-gen
#
#   make model.off.tpk model.off.tpk.ppl.json CALIB_TEXT=train.txt EVAL_TEXT=test.txt
#   make -j8 model.off-blocks.tpk CALIB_TEXT=train.txt BLOCKS="$(seq -s ' ' 0 31)"   # blocks in parallel
#
# Intermediate files are kept (.SECONDARY), and a failed step leaves no output (.DELETE_ON_ERROR; the tools also
# write through a temporary file and rename it only when complete).

TLLM_BIN   ?=#               folder of the tllm tools with a trailing /, empty: found on $PATH
CALIB_TEXT ?=#               calibration text: .txt, .jsonl (CALIB_FLAGS=--field text), .gz/.zst/.xz, a tar
EVAL_TEXT  ?=#               held-out text for NAME.ppl.json (keep it disjoint from CALIB_TEXT)
GROUP      ?= 128#           ternarization group size, or row
INIT       ?= dlt#           ternary initialization: dlt, twn or absmean
STEPS      ?=#               distillation steps (empty: tllm-distill's default)
BLOCK_STEPS?= $(STEPS)#      steps of each block in block-wise distillation
TEACHER     = $*.tllm#       the distillation teacher: the float container of the same model
BLOCKS     ?=#               block indices for block-wise distillation, e.g. 0 1 2 3 4
LAYOUT     ?= t2#            packing: t2 (2 bits per trit) or t1 (1.6)
HEAD       ?=#               LM head in the packed file: f16, q8 or t2 (empty: tllm-pack's default)
CTX        ?= 512#           perplexity context
HF         ?=#               a Hugging Face model directory to import
HF_NAME    ?= $(notdir $(patsubst %/,%,$(HF)))#  name of its container: $(HF_NAME).tllm

# Extra flags per tool (e.g. TLLM_FLAGS=--threads 8 for all of them, DISTILL_FLAGS=--batch 16 --log train.jsonl).
TLLM_FLAGS      ?=#  given to the tools that run the model (calib, ternarize, distill, gen)
CONVERT_FLAGS   ?=
CALIB_FLAGS     ?=
TERNARIZE_FLAGS ?=
DISTILL_FLAGS   ?=
PACK_FLAGS      ?=
GEN_FLAGS       ?=

.SECONDARY:
.DELETE_ON_ERROR:

tllm_need = $(if $($(1)),,$(error $(1) is not set: $(2)))

%.tllm: %.gguf
	$(TLLM_BIN)tllm-convert $< -o $@ $(CONVERT_FLAGS)

ifneq ($(HF),)
$(HF_NAME).tllm: $(HF)/config.json
	$(TLLM_BIN)tllm-convert $(HF) -o $@ $(CONVERT_FLAGS)
endif

%.calib.tllm: %.tllm $(CALIB_TEXT)
	$(call tllm_need,CALIB_TEXT,the text tllm-calib runs the model on)
	$(TLLM_BIN)tllm-calib $< $(CALIB_TEXT) -o $@ $(TLLM_FLAGS) $(CALIB_FLAGS)

%.t.tllm: %.tllm %.calib.tllm
	$(TLLM_BIN)tllm-ternarize $< -o $@ --group $(GROUP) --init $(INIT) --calib $*.calib.tllm $(TLLM_FLAGS) $(TERNARIZE_FLAGS)

%.off.tllm: %.t.tllm %.calib.tllm %.tllm
	$(TLLM_BIN)tllm-distill --teacher $(TEACHER) --student $< --calib $*.calib.tllm -o $@ \
	    $(if $(STEPS),--steps $(STEPS)) $(TLLM_FLAGS) $(DISTILL_FLAGS)

# Block-wise distillation: block i of the student learns the teacher's block i from the hidden states in the
# calibration container, in its own process, so `make -j` runs the blocks in parallel.
define tllm_block_rule
%.part$(1).tllm: %.t.tllm %.calib.tllm
	$$(TLLM_BIN)tllm-distill --student $$< --calib $$*.calib.tllm --block $(1) -o $$@ \
	    $$(if $$(BLOCK_STEPS),--steps $$(BLOCK_STEPS)) $$(TLLM_FLAGS) $$(DISTILL_FLAGS)
endef
$(foreach i,$(BLOCKS),$(eval $(call tllm_block_rule,$(i))))

%.off-blocks.tllm: $(foreach i,$(BLOCKS),%.part$(i).tllm) %.t.tllm
	$(call tllm_need,BLOCKS,the block indices of the model such as BLOCKS="0 1 2 3 4")
	$(TLLM_BIN)tllm-distill --merge $(filter-out $*.t.tllm,$^) --student $*.t.tllm -o $@

%.tpk: %.tllm
	$(TLLM_BIN)tllm-pack $< -o $@ --layout $(LAYOUT) $(if $(HEAD),--head $(HEAD)) $(PACK_FLAGS)

%.ppl.json: % $(EVAL_TEXT)
	$(call tllm_need,EVAL_TEXT,the held-out text to measure perplexity on)
	$(TLLM_BIN)tllm-gen -m $< --perplexity $(EVAL_TEXT) --ctx $(CTX) --json -q $(TLLM_FLAGS) $(GEN_FLAGS) > $@
