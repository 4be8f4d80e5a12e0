#!/usr/bin/env bash
# GPU-host driver: one stage per device call, logs and JSON under $OUT.
#   bash tools/gpu_run.sh setup|parity-bf16|parity-fp8|bench|serve|tp-a|tp-b ...
# Assumes the vLLM bundle is staged in /root/stage (shared/gpu/README.md).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
source /root/stage/unpack.sh
export PYTHONUNBUFFERED=1 VLLM_LOGGING_LEVEL=${VLLM_LOGGING_LEVEL:-INFO}
W=/root/work; mkdir -p $W
# Everything this script prints also lands in $OUT/gpu_run.log, so a command cut off by its time
# limit still returns what it had printed (a `| tail` pipeline returns nothing then).
exec > >(tee -a "$OUT/gpu_run.log") 2>&1
P="python3 tests/gpu/greedy_parity.py"
read -r -a BENCH_ARGS <<< "${BENCH_ARGS:-}"
# The device copy's .git can be stale: run `git rev-parse --short HEAD > .device_commit` here
# before the call (the file is untracked and not ignored, so it travels) to label results.
[ -f .device_commit ] && export GLM52_COMMIT=$(cat .device_commit)
log_commit() { echo "commit ${GLM52_COMMIT:-unknown (no .device_commit)}"; }
log() { echo "== $(date +%T) $*"; }

# ptool DIR NAME ARGS...: the parity tool with a time limit, logged to DIR/log_NAME.txt; on
# failure says so with the log's tail (later stages still run)
ptool() {
  local d=$1 n=$2; shift 2
  timeout ${GEN_TIMEOUT:-320} $P "$@" > $d/log_$n.txt 2>&1 || { echo "$n failed"; tail -8 $d/log_$n.txt; }
}

setup() {
  log setup; log_commit
  python3 -m pip install -q --no-deps --no-build-isolation -e . > $OUT/pip_install.log 2>&1 \
    || { tail -30 $OUT/pip_install.log; return 1; }
  python3 -c "import vllm_glm52, vllm; print('plugin', vllm_glm52.__version__, 'vllm', vllm.__version__)"
  [ -f $W/tiny-bf16/TINY_CHECKPOINT_COMPLETE.json ] || python3 -m vllm_glm52.tiny --out $W/tiny-bf16 --quant bf16 2>&1 | tail -1
  [ -f $W/tiny-fp8/TINY_CHECKPOINT_COMPLETE.json ] || python3 -m vllm_glm52.tiny --out $W/tiny-fp8 --quant fp8 2>&1 | tail -1
  $P prompts --out $W/prompts.json
}

# cmpg DIR A B: greedy runs DIR/A.json vs DIR/B.json -> DIR/cmp_A_B.json + per-prompt lines
cmpg() {
  local d=$1; [ -f $d/$2.json ] && [ -f $d/$3.json ] || return 0
  $P compare $d/$2.json $d/$3.json > $d/cmp_$2_$3.json
  echo "-- $2 vs $3"; python3 -c "import json; d=json.load(open('$d/cmp_$2_$3.json')); [print('  len %(prompt_len)s identical %(identical)s div %(first_divergence)s' % p, {k: round(v, 4) for k, v in p.items() if k.startswith('top2')}) for p in d['prompts']]"
}

# cmps DIR A B: scores DIR/A.json vs DIR/B.json (same sequences) -> DIR/cmps_A_B.json + summary
cmps() {
  local d=$1; [ -f $d/$2.json ] && [ -f $d/$3.json ] || return 0
  $P compare-scores $d/$2.json $d/$3.json > $d/cmps_$2_$3.json
  echo "-- $2 vs $3"; python3 -c "
import json; d=json.load(open('$d/cmps_$2_$3.json'))
print('  agree %.4f of %d, lp diff median %.4f p90 %.4f max %.4f, per prompt %s' % (d['top1_agreement'], d['positions'], d['median_logprob_diff'], d['p90_logprob_diff'], d['max_logprob_diff'], [round(p['top1_agreement'], 3) for p in d['prompts']]))
ds = d['disagreements']; print('  disagreements', len(ds), 'near-tie (<1e-2)', sum(x['near_tie'] for x in ds), 'max margin', round(max([max(x['margin_a'], x['margin_b']) for x in ds], default=0), 4))"
}

# topk_tests PYTEST_FLAGS...: the CUDA top-k tests (error cases run in child processes)
topk_tests() { log topk-tests; python3 -X faulthandler -m pytest "$@" -p no:cacheprovider -m gpu tests/gpu/test_topk_cuda.py 2>&1 | tail -40; }

# parity QUANT KV EXTRA...: ours (twice) vs in-tree vs the fp32 reference.
#   greedy: ours vs ours (run-to-run), ours vs in-tree (first divergence + top-2 margins there)
#   teacher-forced: ours, in-tree and the reference each score ours' sequences (one prefill);
#   compare-scores pairs them on identical inputs. Results: $OUT/parity_<tag>.tgz + summary.
parity() {
  local q=$1 kv=$2; shift 2
  local m=$W/tiny-$q tag=${q}_${kv} d=$W/parity_${q}_${kv}
  rm -rf $d; mkdir -p $d
  log "parity $tag order=${VLLM_GLM52_TOPK_ORDER:-sorted} $*"
  $P generate --model $m --prompts $W/prompts.json --kv-cache-dtype $kv "$@" --out $d/gen_ours.json > $d/log_ours.txt 2>&1 || { tail -40 $d/log_ours.txt; return 1; }
  grep -m6 "vllm-glm52\|Using .* backend\|KV cache format" $d/log_ours.txt | cut -c1-220
  $P generate --model $m --prompts $W/prompts.json --kv-cache-dtype $kv "$@" --out $d/gen_ours2.json > $d/log_ours2.txt 2>&1 || tail -5 $d/log_ours2.txt
  $P score --model $m --seqs $d/gen_ours.json --kv-cache-dtype $kv "$@" --out $d/score_ours.json > $d/log_score_ours.txt 2>&1 || tail -5 $d/log_score_ours.txt
  VLLM_GLM52_DISABLE=1 $P generate --model $m --prompts $W/prompts.json --kv-cache-dtype $kv "$@" --out $d/gen_intree.json > $d/log_intree.txt 2>&1 || { tail -5 $d/log_intree.txt; echo "in-tree failed"; }
  VLLM_GLM52_DISABLE=1 $P score --model $m --seqs $d/gen_ours.json --kv-cache-dtype $kv "$@" --out $d/score_intree.json > $d/log_score_intree.txt 2>&1 || tail -5 $d/log_score_intree.txt
  if [ -n "${NOISE:-}" ]; then  # in-tree's own run-to-run floor: score the same sequences again
    VLLM_GLM52_DISABLE=1 $P score --model $m --seqs $d/gen_ours.json --kv-cache-dtype $kv "$@" --out $d/score_intree2.json > $d/log_score_intree2.txt 2>&1 || tail -5 $d/log_score_intree2.txt
  fi
  $P score --engine reference --model $m --seqs $d/gen_ours.json --out $d/score_ref.json > $d/log_ref.txt 2>&1 || tail -20 $d/log_ref.txt
  cmpg $d gen_ours gen_ours2; cmpg $d gen_ours gen_intree
  cmps $d score_ours score_intree; cmps $d score_ref score_ours; cmps $d score_ref score_intree
  cmps $d score_intree score_intree2
  (cd $d && tar czf $OUT/parity_$tag.tgz *.json)
}

# parity_sorted QUANT KV EXTRA...: ours vs the in-tree path with its top-k rows sorted
# (GLM52_PARITY_SORT_INTREE=1, a measurement patch in greedy_parity.py): with both engines
# deterministic, what is left is the implementations' difference. In-tree-sorted scores twice
# to show it is deterministic. Results: $OUT/sorted_<tag>.tgz + summary.
parity_sorted() {
  local q=$1 kv=$2; shift 2
  local m=$W/tiny-$q tag=${q}_${kv} d=$W/sorted_${q}_${kv}
  rm -rf $d; mkdir -p $d
  log "parity-sorted $tag $*"
  ptool $d gen_ours generate --model $m --prompts $W/prompts.json --kv-cache-dtype $kv "$@" --out $d/gen_ours.json
  ptool $d score_ours score --model $m --seqs $d/gen_ours.json --kv-cache-dtype $kv "$@" --out $d/score_ours.json
  export VLLM_GLM52_DISABLE=1 GLM52_PARITY_SORT_INTREE=1
  ptool $d gen_intree generate --model $m --prompts $W/prompts.json --kv-cache-dtype $kv "$@" --out $d/gen_intree.json
  ptool $d score_intree score --model $m --seqs $d/gen_ours.json --kv-cache-dtype $kv "$@" --out $d/score_intree.json
  ptool $d score_intree2 score --model $m --seqs $d/gen_ours.json --kv-cache-dtype $kv "$@" --out $d/score_intree2.json
  unset VLLM_GLM52_DISABLE GLM52_PARITY_SORT_INTREE
  cmpg $d gen_ours gen_intree; cmps $d score_ours score_intree; cmps $d score_intree score_intree2
  (cd $d && tar czf $OUT/sorted_$tag.tgz *.json)
}

# serve_check NAME MODEL ARGS...: `vllm serve` answers a chat request; logs the class line
serve_check() {
  local name=$1 model=$2; shift 2
  log "serve $name"
  python3 -m vllm.entrypoints.cli.main serve $model --port 8011 --max-model-len 4096 \
    --gpu-memory-utilization 0.5 "$@" > $OUT/serve_$name.log 2>&1 &
  local pid=$!
  for i in $(seq 1 240); do
    curl -sf localhost:8011/health >/dev/null && break
    kill -0 $pid 2>/dev/null || { echo "server died"; tail -30 $OUT/serve_$name.log; return 1; }
    sleep 1
  done
  curl -s localhost:8011/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model":"'$model'","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print('chat ok:', d['choices'][0]['finish_reason'], repr(d['choices'][0]['message']['content'][:60]))"
  grep -m2 "vllm-glm52" $OUT/serve_$name.log | cut -c1-200
  kill $pid; wait $pid 2>/dev/null
}

for stage in "$@"; do
  case $stage in
    setup) setup ;;
    parity-bf16) parity bf16 auto --enforce-eager ;;
    parity-fp8) parity fp8 fp8 --enforce-eager ;;
    parity-fp8e4m3) parity fp8 fp8_e4m3 --enforce-eager ;;
    sorted-bf16) parity_sorted bf16 auto --enforce-eager ;;
    sorted-fp8) parity_sorted fp8 fp8 --enforce-eager ;;
    determinism)  # the same engine twice: is any difference between engines just run-to-run noise?
      for r in 1 2; do VLLM_GLM52_DISABLE=1 $P generate --model $W/tiny-bf16 --prompts $W/prompts.json --enforce-eager --out $OUT/det_intree_$r.json > $OUT/log_det_$r.txt 2>&1 || tail -5 $OUT/log_det_$r.txt; done
      $P compare $OUT/det_intree_1.json $OUT/det_intree_2.json | head -30 ;;
    serve-bf16) serve_check bf16 $W/tiny-bf16 --enforce-eager ;;
    serve-fp8e4m3) serve_check fp8e4m3 $W/tiny-fp8 --enforce-eager --kv-cache-dtype fp8_e4m3 ;;
    bench)  # ENGINES (first is the ratios' numerator), BATCHES, PROMPT_LEN, NEW_TOKENS, ROUNDS
      log bench; log_commit; python3 benchmarks/bench_generate.py --model $W/tiny-bf16 --engines ${ENGINES:-plugin,in-tree} \
        --batches ${BATCHES:-1 32 128} --prompt-len ${PROMPT_LEN:-128} --new-tokens ${NEW_TOKENS:-128} \
        --rounds ${ROUNDS:-7} --out-md $OUT/bench_generate.md > $OUT/bench_generate_p${PROMPT_LEN:-128}.txt 2>&1
      grep -v "^RESULT" $OUT/bench_generate_p${PROMPT_LEN:-128}.txt | tail -12 ;;
    bench-fp8) python3 benchmarks/bench_generate.py --model $W/tiny-fp8 --kv-cache-dtype fp8 --out-md $OUT/bench_generate.md 2>&1 | tail -8 ;;
    topk-tests) topk_tests -x -v ;;
    build)  # the package and its CUDA extension only (no tiny checkpoints)
      log build; log_commit
      python3 -m pip install -q --no-deps --no-build-isolation -e . > $OUT/pip_install.log 2>&1 || tail -30 $OUT/pip_install.log ;;
    topk-prof)  # top-k kernels over input distributions, then Nsight Compute on a few shapes
      log topk-prof; [ "${PROF_DISTS:-1}" = 1 ] && python3 tools/profile_topk.py dists 2>&1 | tail -20
      NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
      for cfg in ${PROF_CFGS:-1,32768,radix,1 64,131072,radix,2 2048,8192,radix,0}; do
        IFS=, read -r pr pc pa pk <<< "$cfg"; rep=$OUT/ncu_${pr}x${pc}_${pa}${pk}
        timeout 150 $NCU --clock-control none -k regex:topk --launch-skip 1 --launch-count 1 --set full --warp-sampling-interval 0 \
          -f -o $rep python3 tools/profile_topk.py one --rows $pr --cols $pc --algo $pa --cluster $pk > $rep.log 2>&1 || tail -5 $rep.log
        $NCU --import $rep.ncu-rep --page details > $rep.details.txt 2>&1
        $NCU --import $rep.ncu-rep --page source --csv --print-source sass > $rep.sass.csv 2>&1 || head -3 $rep.sass.csv
        # per source line: python tools/ncu_lines.py (the SASS page mapped through a -lineinfo cubin)
        grep -m3 "Duration\|Issue Slots Busy\|No Eligible" $rep.details.txt
        [ -n "${PROF_KEEP:-}" ] || rm -f $rep.ncu-rep $rep.log  # only 8 files come back per call
      done ;;
    e2e-parsers)  # issue 4: the parsers behind a real server, MTP 3, OpenAI + Anthropic SDKs
      log e2e-parsers
      python3 -m vllm.entrypoints.cli.main serve $W/tiny-bf16 --port 8012 --max-model-len 4096 \
        --gpu-memory-utilization 0.5 --enforce-eager --tool-call-parser glm47 --reasoning-parser glm45 \
        --enable-auto-tool-choice --speculative-config '{"method":"mtp","num_speculative_tokens":3}' \
        > $OUT/serve_parsers.log 2>&1 &
      spid=$!
      for i in $(seq 1 300); do curl -sf localhost:8012/health >/dev/null && break; kill -0 $spid 2>/dev/null || { echo "server died"; tail -30 $OUT/serve_parsers.log; break; }; sleep 1; done
      log "healthy after ${i}s"
      python3 tests/gpu/e2e_parsers.py --base-url http://localhost:8012 2>&1 | tail -40
      grep -m6 "vllm-glm52\|GLM parsers\|Traceback\|Error" $OUT/serve_parsers.log | cut -c1-220
      kill $spid; wait $spid 2>/dev/null ;;
    serve-fp8) serve_check fp8 $W/tiny-fp8 --enforce-eager --kv-cache-dtype fp8 ;;
    noise-fp8)  # FP8 + fp8 KV: ours vs in-tree and in-tree vs itself, scoring the same sequences
      d=$W/noise; mkdir -p $d; m=$W/tiny-fp8; E="--kv-cache-dtype fp8 --enforce-eager"
      log noise-fp8
      $P generate --model $m --prompts $W/prompts.json $E --out $d/gen_ours.json > $d/log0.txt 2>&1 || tail -20 $d/log0.txt
      $P score --model $m --seqs $d/gen_ours.json $E --out $d/score_ours.json > $d/log1.txt 2>&1 || tail -5 $d/log1.txt
      for r in 1 2; do VLLM_GLM52_DISABLE=1 $P score --model $m --seqs $d/gen_ours.json $E --out $d/score_intree$r.json > $d/log2$r.txt 2>&1 || tail -5 $d/log2$r.txt; done
      cmps $d score_ours score_intree1; cmps $d score_intree1 score_intree2
      (cd $d && tar czf $OUT/noise_fp8.tgz *.json) ;;
    topk-e2e)  # issue 3: the model with our top-k kernel reproduces greedy output with vLLM's
      d=$W/topk_e2e; mkdir -p $d; log topk-e2e
      for tk in vllm glm52; do
        VLLM_GLM52_INDEXER_TOPK=$tk ptool $d $tk generate --model $W/tiny-bf16 --prompts $W/prompts.json --enforce-eager --out $d/gen_$tk.json
        grep -h -m1 "indexer:" $d/log_$tk.txt | cut -c1-200
      done
      cmpg $d gen_vllm gen_glm52; cp $d/*.json $OUT/ ;;
    topk-e2e-opts)  # the same at max model len 4096, where the regs kernel at 512 x 2-3 float4
      # selects (with kOptScan at up to one row per SM; TOPK_OPT=0|1 forces it off / on)
      d=$W/topk_e2e_opts; mkdir -p $d; log "topk-e2e-opts TOPK_OPT=${TOPK_OPT:-automatic}"
      [ -n "${TOPK_OPT:-}" ] && export VLLM_GLM52_TOPK_OPT=$TOPK_OPT
      for tk in vllm glm52; do
        VLLM_GLM52_INDEXER_TOPK=$tk ptool $d $tk generate \
          --model $W/tiny-bf16 --prompts $W/prompts.json --max-model-len 4096 --enforce-eager \
          --out $d/gen_$tk.json
        grep -h -m1 "indexer:" $d/log_$tk.txt | cut -c1-200
      done
      cmpg $d gen_vllm gen_glm52; cp $d/*.json $OUT/ ;;
    topk-e2e-grid)  # the same where the grid kernel selects: decode logits 65536 wide (max
      # model len past the tiny config's 8192, positions stay below it) and a 6000-token prompt
      d=$W/topk_e2e_grid; mkdir -p $d; log topk-e2e-grid
      $P prompts --out $W/prompts_long.json --long-len 6000
      for tk in vllm glm52; do
        VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 VLLM_GLM52_INDEXER_TOPK=$tk ptool $d $tk generate \
          --model $W/tiny-bf16 --prompts $W/prompts_long.json --max-model-len 65536 \
          --enforce-eager --out $d/gen_$tk.json
        grep -h -m1 "indexer:" $d/log_$tk.txt | cut -c1-200
      done
      cmpg $d gen_vllm gen_glm52; cp $d/*.json $OUT/ ;;
    topk-e2e-graphs)  # the same with torch.compile + CUDA graphs (FULL decode, piecewise mixed)
      d=$W/topk_e2e_g; mkdir -p $d; log topk-e2e-graphs
      for tk in vllm glm52; do
        VLLM_GLM52_INDEXER_TOPK=$tk ptool $d $tk generate --model $W/tiny-bf16 --prompts $W/prompts.json --out $d/gen_$tk.json
      done
      cmpg $d gen_vllm gen_glm52 ;;
    profile-indexer)  # one profiled generate per pipeline (PIPELINES: vllm glm52 in-tree), then
      # their differences per kernel and op (tools/profile_indexer.py); BATCH, PROMPT_LEN, NEW_TOKENS
      log "profile-indexer"; log_commit; pl=(${PIPELINES:-vllm glm52})
      declare -A seen=()
      for pipe in "${pl[@]}"; do  # a pipeline named twice runs twice (prof_vllm.json, prof_vllm_2.json)
        tk=$pipe; [ -n "${seen[$pipe]:-}" ] && tk=${pipe}_2; seen[$pipe]=1
        log "profile $tk"
        case $pipe in in-tree) ev="VLLM_GLM52_DISABLE=1" ;; *) ev="VLLM_GLM52_INDEXER_TOPK=$pipe" ;; esac
        env $ev timeout ${PROF_TIMEOUT:-280} python3 tools/profile_indexer.py run --model $W/tiny-bf16 \
          --batch ${BATCH:-128} --prompt-len ${PROMPT_LEN:-3968} --new-tokens ${NEW_TOKENS:-64} \
          --rounds ${ROUNDS:-3} ${EAGER:+--eager} --out $OUT/prof_$tk.json > $OUT/prof_$tk.log 2>&1 || { echo "$tk failed"; tail -15 $OUT/prof_$tk.log; }
        grep -h "engine up\|median\|indexer:" $OUT/prof_$tk.log | cut -c1-200
      done
      for tk in $(ls $OUT/prof_*.json | sed 's#.*/prof_##; s#\.json##' | grep -vx "${pl[0]}"); do [ -f $OUT/prof_${pl[0]}.json ] && [ -f $OUT/prof_$tk.json ] && \
        python3 tools/profile_indexer.py compare $OUT/prof_${pl[0]}.json $OUT/prof_$tk.json --top 30 \
          | tee $OUT/prof_cmp_$tk.txt | head -75; done ;;
    topk-opts)  # the regs kernel's kOptScan: its GPU tests, then its timings off / on on the
      # shapes it applies to (bench_topk.py --opts), in one call
      topk_tests -q -k opts
      log topk-opts-bench; OUT=$OUT timeout ${BENCH_TIMEOUT:-400} python3 benchmarks/bench_topk.py --opts \
        --only 1x4096,8x4096,64x4096,256x4096,1x32768,8x32768,64x32768 2>&1 | tail -30 ;;
    topk-bench) log topk-bench; OUT=$OUT timeout ${BENCH_TIMEOUT:-540} python3 benchmarks/bench_topk.py "${BENCH_ARGS[@]}" 2>&1 | tail -45 ;;
    topk)
      topk_tests -q
      log topk-bench; python3 benchmarks/bench_topk.py 2>&1 | tail -45 ;;
    tp-a|tp-b|tp-bf16)  # 2 GPUs: is TP=2's parting from TP=1 numerics or a bug? (FP8 tiny)
      # Every engine generates and, in the same process, scores TP=1's sequences (teacher-forced).
      # tp-a: ours TP=1, ours TP=2, the fp32 reference. tp-b: in-tree TP=2 and TP=1 (sorted,
      # in-process), ours PP=2 (stage 2 starts on shared layer 4), with WITH_INTREE=1 also
      # in-tree PP=2. tp-bf16: ours TP=1 / TP=2 on the BF16 checkpoint. Runs persist in $W/tp_*
      # while the machine stays warm (tp-b needs tp-a's TP=1 run).
      export VLLM_USE_DEEP_GEMM=0
      q=fp8; [ $stage = tp-bf16 ] && q=bf16
      m=$W/tiny-$q; E="--enforce-eager --gpu-mem 0.6"; d=$W/tp_$q; mkdir -p $d
      gs() { local tag=$1; shift; log "gen+score $q $tag"
        ptool $d $tag generate --model $m --prompts $W/prompts.json $E "$@" --out $d/gen_$tag.json \
          --score-seqs $d/gen_tp1.json --score-out $d/score_$tag.json; }
      if [ $stage != tp-b ]; then
        log "gen+score $q tp1"
        ptool $d tp1 generate --model $m --prompts $W/prompts.json $E --out $d/gen_tp1.json --score-out $d/score_tp1.json
        gs tp2 --tp 2
        cmpg $d gen_tp1 gen_tp2; cmps $d score_tp1 score_tp2
        if [ $stage = tp-a ]; then
          log "score $q reference"; ptool $d ref score --engine reference --model $m --seqs $d/gen_tp1.json --out $d/score_ref.json
          cmps $d score_ref score_tp1; cmps $d score_ref score_tp2
        fi
      else
        [ -f $d/gen_tp1.json ] || { echo "tp-b: run tp-a first (same warm machine)"; exit 2; }
        VLLM_GLM52_DISABLE=1 gs intree_tp2 --tp 2
        VLLM_GLM52_DISABLE=1 GLM52_PARITY_SORT_INTREE=1 gs intree_tp1
        gs pp2 --pp 2; grep -h -m2 "across the stage" $d/log_pp2.txt | cut -c1-200
        [ -n "${WITH_INTREE:-}" ] && VLLM_GLM52_DISABLE=1 gs intree_pp2 --pp 2
        cmpg $d gen_tp1 gen_pp2; cmpg $d gen_tp1 gen_intree_pp2; cmpg $d gen_tp1 gen_intree_tp1; cmpg $d gen_intree_tp1 gen_intree_tp2
        cmpg $d gen_tp2 gen_intree_tp2
        cmps $d score_tp1 score_pp2; cmps $d score_tp1 score_intree_tp1
        cmps $d score_intree_tp1 score_intree_tp2; cmps $d score_tp2 score_intree_tp2
      fi
      (cd $d && tar czf $OUT/tp_$q.tgz *.json) ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
done
