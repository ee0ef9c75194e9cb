#!/usr/bin/env bash
# Data-parallel training on Gloo over 127.0.0.1, as a user starts it: two ranks with per-rank batch B follow the
# loss curve of one process with batch 2B on the same samples (dense and top-2 MoE, routing statistics too);
# a run started on 2 ranks resumes on 1 and vice versa and lands where an uninterrupted run lands; torchrun's
# variables (and its agent store) start the same run as --nproc; a rank killed mid-run ends the job at once
# naming it, a hung one after the timeout, and the last checkpoint loads and resumes; SIGTERM stops every rank
# with a checkpoint; a batch that does not split is refused once; bench --nproc reports the scaling; expert
# parallelism follows the same curves, resumes across world sizes, and refuses experts that do not split. Every
# distributed run here has a --timeout, so none can hang. Ends with "N passed, N failed".
set -uo pipefail
cli="$1"; work="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
source "$(dirname "$0")/cli_checks.sh"
# same_curves A B TOL COLUMNS...: every row of A's metrics.csv equals B's in the named columns within TOL
same_curves() {
  local a="$1/metrics.csv" b="$2/metrics.csv" tol="$3"; shift 3
  [ -s "$a" ] && [ -s "$b" ] && [ "$(wc -l < "$a")" -eq "$(wc -l < "$b")" ] || { echo "row counts differ" >&2; return 1; }
  paste -d'\n' "$a" "$b" | awk -F, -v tol="$tol" -v cols="$*" '
    NR == 1 { n = split(cols, want, " "); for (i = 1; i <= NF; i++) for (k = 1; k <= n; k++) if ($i == want[k]) use[i] = 1; next }
    NR == 2 { next }
    NR % 2 == 1 { split($0, first, ","); next }
    { for (i in use) if (first[i] != "" || $i != "") {
        d = first[i] - $i; if (d < 0) d = -d
        if (first[i] == "" || $i == "" || d > tol) { print "row " NR / 2 - 1 ", column " i ": " first[i] " vs " $i > "/dev/stderr"; bad = 1 } } }
    END { exit bad }'
}

awk 'BEGIN { srand(7); split("alpha beta gamma delta epsilon zeta eta theta", w, " ");
             for (i = 0; i < 6000; i++) printf "%s%s", w[int(rand() * 8) + 1], (i % 9 == 8 ? ".\n" : " ") }' > "$work/corpus.txt"
tiny=(--data "$work/corpus.txt" --ffn=dense --n_layer=2 --n_head=2 --n_embd=32 --block_size=32 --batch_size=8 --dropout=0
      --eval_iters=2 --log_interval=2 --eval_interval=6 --timeout 60)
losses=(train_loss eval_train_loss val_loss)

# Tolerance: the ranks' mean of two half-batch gradients equals the whole batch's gradient up to float
# summation order (~1e-7 relative); over 24 AdamW steps that stays below 1e-5 (measured: 1e-6). A rank that
# trained on the wrong rows, skipped the averaging or evaluated half the batches is off by more than 1e-2.
tol=1e-4
"$cli" train "${tiny[@]}" --max_iters=24 --run "$work/one" > "$work/one.log" 2>&1
"$cli" train "${tiny[@]}" --max_iters=24 --run "$work/two" --nproc 2 > "$work/two.log" 2>&1; rc=$?
check "two ranks train" [ $rc -eq 0 ]
check "two ranks follow one process's curve (batch 8 = 2 x 4)" same_curves "$work/one" "$work/two" $tol "${losses[@]}"
check "run.json says the world size and the per-rank batch" \
  grep -q '"per_rank_batch": 4' "$work/two/run.json"
check "only rank 0 speaks" [ "$(grep -c '^done:' "$work/two.log")" -eq 1 ]

moe=(--ffn=moe --n_experts=4 --routing=topk --top_k=2)
"$cli" train "${tiny[@]}" "${moe[@]}" --max_iters=12 --run "$work/moe1" > /dev/null 2>&1
"$cli" train "${tiny[@]}" "${moe[@]}" --max_iters=12 --run "$work/moe2" --nproc 2 > /dev/null 2>&1
check "top-2 MoE: the same curve and the same expert loads on two ranks" \
  same_curves "$work/moe1" "$work/moe2" $tol "${losses[@]}" L0_load_e0 L0_load_e1 L0_load_e2 L0_load_e3 \
  L1_load_entropy L1_router_entropy

# expert parallelism: each rank holds 2 of the 4 experts, tokens travel to them; the same curve as data
# parallelism (and so as one process), the expert loads too, for top-2 and for softmax (every expert sees every
# token); a checkpoint holds every expert, so the run resumes on 1 process, and a 1-process run on 2 ranks
"$cli" train "${tiny[@]}" "${moe[@]}" --max_iters=12 --run "$work/moe-ep" --nproc 2 --expert-parallel \
  > "$work/moe-ep.log" 2>&1; rc=$?
check "expert-parallel training on 2 ranks" [ $rc -eq 0 ]
check "says how many experts each rank holds" contains "$(cat "$work/moe-ep.log")" "2 experts per rank"
check "expert-parallel: the same curve and expert loads as data-parallel" \
  same_curves "$work/moe2" "$work/moe-ep" $tol "${losses[@]}" L0_load_e0 L0_load_e3 L1_load_entropy
check "run.json records the experts per rank" grep -q '"experts_per_rank": 2' "$work/moe-ep/run.json"
"$cli" train "${tiny[@]}" "${moe[@]}" --use_capacity=true --capacity_factor=0.5 --max_iters=6 --run "$work/cf-dp" \
  --nproc 2 > /dev/null 2>&1
"$cli" train "${tiny[@]}" "${moe[@]}" --use_capacity=true --capacity_factor=0.5 --max_iters=6 --run "$work/cf-ep" \
  --nproc 2 --expert-parallel > /dev/null 2>&1
check "capacity 0.5 (fixed-size slots): the data-parallel curve and drops" \
  same_curves "$work/cf-dp" "$work/cf-ep" $tol "${losses[@]}" L0_dropped L1_dropped L0_load_e2
soft=(--ffn=moe --n_experts=4 --routing=softmax --expert_shape=linear)
"$cli" train "${tiny[@]}" "${soft[@]}" --max_iters=6 --run "$work/soft1" > /dev/null 2>&1
"$cli" train "${tiny[@]}" "${soft[@]}" --max_iters=6 --run "$work/soft-ep" --nproc 2 --expert-parallel > /dev/null 2>&1
check "softmax over linear experts, split over 2 ranks: one process's curve" \
  same_curves "$work/soft1" "$work/soft-ep" $tol "${losses[@]}" L0_load_e1
"$cli" resume --run "$work/moe-ep" --max_iters 24 > /dev/null 2>&1; rc=$?
"$cli" train "${tiny[@]}" "${moe[@]}" --max_iters=24 --run "$work/moe-whole" > /dev/null 2>&1
check "an expert-parallel run resumes on 1 process" [ $rc -eq 0 ]
check "and follows the uninterrupted curve" same_curves "$work/moe-whole" "$work/moe-ep" $tol "${losses[@]}"
"$cli" train "${tiny[@]}" "${moe[@]}" --max_iters=12 --run "$work/moe-later-ep" > /dev/null 2>&1
"$cli" resume --run "$work/moe-later-ep" --max_iters 24 --nproc 2 --expert-parallel --timeout 60 > /dev/null 2>&1
check "a 1-process run continues expert-parallel on the same curve" \
  same_curves "$work/moe-whole" "$work/moe-later-ep" $tol "${losses[@]}"
out="$("$cli" train "${tiny[@]}" --ffn=moe --n_experts=3 --nproc 2 --expert-parallel --run "$work/odd-experts" 2>&1)"
rc=$?
check "experts that do not split over the ranks are refused (usage error)" [ $rc -eq 2 ]
check "naming n_experts, once, before any rank starts" [ "$(grep -c 'n_experts' <<<"$out")" -eq 1 ]
check "the run folder is not created" [ ! -e "$work/odd-experts" ]
out="$("$cli" train "${tiny[@]}" --nproc 2 --expert-parallel --run "$work/dense-ep" 2>&1)"; rc=$?
check "a dense model has no experts to split" [ $rc -eq 2 ]
check "said plainly" contains "$out" "this model is dense"
out="$("$cli" train "${tiny[@]}" "${moe[@]}" --max_iters=2 --expert-parallel --run "$work/ep-alone" 2>&1 >/dev/null)"
check "--expert-parallel on one process trains and says it holds every expert" \
  contains "$out" "warning: --expert-parallel: a single process holds every expert"

# across world sizes: 2 -> 1 and 1 -> 2 land on the uninterrupted run
"$cli" train "${tiny[@]}" --max_iters=12 --run "$work/two-one" --nproc 2 > /dev/null 2>&1
"$cli" resume --run "$work/two-one" --max_iters 24 > /dev/null 2>&1; rc=$?
check "a 2-rank run resumes on 1 process" [ $rc -eq 0 ]
check "and follows the uninterrupted curve" same_curves "$work/one" "$work/two-one" $tol "${losses[@]}"
"$cli" train "${tiny[@]}" --max_iters=12 --run "$work/one-two" > /dev/null 2>&1
"$cli" resume --run "$work/one-two" --max_iters 24 --nproc 2 --timeout 60 > /dev/null 2>&1; rc=$?
check "a 1-process run resumes on 2 ranks" [ $rc -eq 0 ]
check "and follows the uninterrupted curve" same_curves "$work/one" "$work/one-two" $tol "${losses[@]}"

# torchrun --no-python starts each rank with these variables and nothing else
port=$((20000 + RANDOM % 20000))
for r in 0 1; do
  RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$cli" train "${tiny[@]}" --max_iters=24 --run "$work/env" > "$work/env$r.log" 2>&1 &
done
wait; check "torchrun's variables: the same run as --nproc" same_curves "$work/two" "$work/env" $tol "${losses[@]}"
# torchrun's agent hosts the store and the ranks only connect to it (TORCHELASTIC_USE_AGENT_STORE): the agent's
# side is PyTorch's own TCPStore, where Debian's python3-torch is installed
if /usr/bin/python3 -c 'import torch.distributed' 2>/dev/null; then
  port=$((20000 + RANDOM % 20000))
  /usr/bin/python3 -c "import datetime, time, torch.distributed as d
s = d.TCPStore('127.0.0.1', $port, 2, True, datetime.timedelta(seconds=60), wait_for_workers=False)
time.sleep(120)" &
  agent=$!
  for r in 0 1; do
    RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      TORCHELASTIC_USE_AGENT_STORE=True TORCHELASTIC_RESTART_COUNT=0 \
      "$cli" train "${tiny[@]}" --max_iters=24 --run "$work/agent" > "$work/agent$r.log" 2>&1 &
    ranks[$r]=$!
  done
  wait ${ranks[0]} ${ranks[1]}; kill $agent 2>/dev/null; wait $agent 2>/dev/null
  check "torchrun's agent store: the same run" same_curves "$work/two" "$work/agent" $tol "${losses[@]}"
fi

# ranks that disagree: another learning rate on rank 1 is refused by both, before a step
port=$((20000 + RANDOM % 20000))
for r in 0 1; do
  lr=$([ $r = 1 ] && echo 0.002 || echo 0.001)
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    "$cli" train "${tiny[@]}" --max_iters=24 --learning_rate=$lr --run "$work/differ" > "$work/differ$r.log" 2>&1 &
  ranks[$r]=$!
done
wait ${ranks[0]}; rc0=$?; wait ${ranks[1]}; rc1=$?
check "rank 0 stops when rank 1's options differ" [ $rc0 -ne 0 ]
check "and so does rank 1" [ $rc1 -ne 0 ]
check "the differing rank says so" contains "$(cat "$work/differ1.log")" "rank 1: its config or dataset differs from rank 0's"
check "rank 0 points at it" contains "$(cat "$work/differ0.log")" "another rank's config or dataset differs"
check "nothing was trained" [ "$(tail -n +2 "$work/differ/metrics.csv" | wc -l)" -eq 0 ]

# rank 0 cannot start (the folder holds a run): every rank stops at once, the reason said once
out="$("$cli" train "${tiny[@]}" --max_iters=24 --run "$work/two" --nproc 2 2>&1)"; rc=$?
check "a folder holding a run is refused on 2 ranks" [ $rc -ne 0 ]
check "the reason, once" [ "$(grep -c 'already holds a run' <<<"$out")" -eq 1 ]
check "the other rank says why it stops" contains "$out" "rank 1: another rank could not start the run"
out="$("$cli" resume --run "$work/two" --nproc 3 2>&1)"; rc=$?
check "resume on 3 ranks of a batch of 8 is refused before starting" [ $rc -ne 0 ]
check "before any rank starts" lacks "$out" "started 3 ranks"
check "naming batch_size" contains "$out" "batch_size"

out="$("$cli" train "${tiny[@]}" --batch_size=9 --nproc 2 --run "$work/odd" 2>&1)"; rc=$?
check "a batch that does not split is refused" [ $rc -ne 0 ]
check "naming batch_size, once" [ "$(grep -c 'batch_size' <<<"$out")" -eq 1 ]
check "before any rank starts" [ ! -e "$work/odd" ]

# start_then_signal RUN TIMEOUT SIGNAL [OPTIONS]: trains RUN on 2 ranks, sends SIGNAL to rank 1 once the first
# checkpoint is on disk, waits for the launcher; sets rank1, rc and took (seconds from the signal to the end)
start_then_signal() {
  "$cli" train "${tiny[@]}" "${@:4}" --max_iters=1000000 --timeout "$2" --run "$work/$1" --nproc 2 \
    > "$work/$1.log" 2>&1 &
  local launcher=$!
  check "the first checkpoint appears" wait_for "$work/$1/checkpoints/latest.pt"
  rank1=$(grep -o 'pids [0-9]* [0-9]*' "$work/$1.log" | awk '{print $3}')
  kill "-$3" "$rank1"; local signalled_at=$SECONDS
  wait $launcher; rc=$?
  took=$((SECONDS - signalled_at))
}

# a rank killed mid-run: the job ends within the timeout, names the rank, and the checkpoint stands
start_then_signal kill 20 KILL
check "the job fails" [ $rc -ne 0 ]
check "within the timeout" [ $took -le 25 ]
check "naming the killed rank" contains "$(cat "$work/kill.log")" "rank 1 (pid $rank1) was killed by signal 9"
# what the launcher said instead, for a failure seen only under CI's load
contains "$(cat "$work/kill.log")" "rank 1 (pid $rank1) was killed by signal 9" || sed 's/^/  kill.log: /' "$work/kill.log" >&2
check "rank 0 says the checkpoint is intact" contains "$(cat "$work/kill.log")" "the last checkpoint in $work/kill is intact"
out="$("$cli" eval --checkpoint "$work/kill/checkpoints/latest.pt" --batches 1 2>&1)"; rc=$?
check "the last checkpoint loads" [ $rc -eq 0 ]
step=$(grep -o '^step [0-9]*:' "$work/kill.log" | tail -1 | grep -o '[0-9]*')
"$cli" resume --run "$work/kill" --max_iters $((step + 2)) > /dev/null 2>&1; rc=$?
check "and resumes" [ $rc -eq 0 ]

# the same with the experts split: a rank dies inside the token exchanges, and the whole checkpoint stands
start_then_signal kill-ep 20 KILL "${moe[@]}" --expert-parallel
check "expert-parallel: a killed rank fails the job" [ $rc -ne 0 ]
check "within the timeout" [ $took -le 25 ]
check "rank 0 says how to continue, expert-parallel" \
  contains "$(cat "$work/kill-ep.log")" "resume --run $work/kill-ep [--nproc N] [--expert-parallel]"
out="$("$cli" eval --checkpoint "$work/kill-ep/checkpoints/latest.pt" --batches 1 2>&1)"; rc=$?
check "its last checkpoint, holding every expert, loads in one process" [ $rc -eq 0 ]

# a rank that hangs (stopped): rank 0's collective fails after the timeout, the launcher names the hung rank
start_then_signal hang 8 STOP
check "a hung rank fails the job" [ $rc -ne 0 ]
check "within the timeout, the grace and the kill" [ $took -le 30 ]
check "rank 0 says a rank did not answer" contains "$(cat "$work/hang.log")" "did not answer within 8 s"
check "the launcher names the hung rank" contains "$(cat "$work/hang.log")" "rank 1 (pid $rank1) did not end"
out="$("$cli" eval --checkpoint "$work/hang/checkpoints/latest.pt" --batches 1 2>&1)"; rc=$?
check "its last checkpoint loads" [ $rc -eq 0 ]

# SIGTERM to the launcher: every rank stops after the same step, rank 0 saves, the run resumes on 2 ranks
"$cli" train "${tiny[@]}" --max_iters=1000000 --run "$work/term" --nproc 2 > "$work/term.log" 2>&1 &
launcher=$!
check "the first checkpoint appears" wait_for "$work/term/checkpoints/latest.pt"
check "run.lock names the writer as rank 0 (the app's 'following' badge)" grep -q ', rank 0 of 2$' "$work/term/run.lock"
kill -TERM $launcher; wait $launcher; rc=$?
check "SIGTERM stops the group with 143" [ $rc -eq 143 ]
check "saying where it stopped" contains "$(cat "$work/term.log")" "stopped at step"
step=$(grep -o 'stopped at step [0-9]*' "$work/term.log" | grep -o '[0-9]*$')
"$cli" resume --run "$work/term" --max_iters $((step + 2)) --nproc 2 --timeout 60 > /dev/null 2>&1; rc=$?
check "the stopped run resumes on 2 ranks" [ $rc -eq 0 ]

# bench --nproc: the scaling table's rows (no speed is asserted: these machines are noisy)
out="$("$cli" bench --nproc 2 --steps 2 "${tiny[@]}" 2>&1)"; rc=$?
check "bench --nproc 2 runs" [ $rc -eq 0 ]
check "and reports 2 ranks' scaling efficiency" grep -qE '^\| 2 \| [0-9]+ \| 4 \| [0-9]+ \| [0-9.]+ \| [0-9]+ % \|$' <<<"$out"
out="$("$cli" bench --nproc 2 --steps 2 --expert-parallel "${tiny[@]}" "${moe[@]}" 2>&1)"; rc=$?
check "bench --nproc 2 --expert-parallel runs" [ $rc -eq 0 ]
check "and says it splits the experts" contains "$out" "expert-parallel (2 experts per rank)"

# Ctrl-C while the ranks start: a stop, not a failure, and nothing left running
"$cli" train "${tiny[@]}" --max_iters=1000000 --run "$work/early" --nproc 2 > "$work/early.log" 2>&1 &
launcher=$!
for _ in $(seq 1200); do grep -q 'started 2 ranks' "$work/early.log" 2>/dev/null && break; sleep 0.1; done
kill -INT $launcher; interrupted_at=$SECONDS
wait $launcher; rc=$?
check "Ctrl-C while starting exits 130" [ $rc -eq 130 ]
check "promptly" [ $((SECONDS - interrupted_at)) -le 20 ]
check "without blaming a rank" lacks "$(cat "$work/early.log")" "was killed by signal"
check "no rank is left running" lacks "$(pgrep -af "$work/early")" "$work/early"

finish
