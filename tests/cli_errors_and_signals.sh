#!/usr/bin/env bash
# moewb-cli as a user meets it: SIGTERM stops a run with a checkpoint that resumes; values that used to wrap or
# half-parse are one-line errors naming the option; resume cannot shorten a run below its step; a second writer
# is refused naming the first; eval reads the run's own dataset; an unknown prompt character prints nothing;
# zero-step benches and evals are refused; interventions report and refuse impossible requests; prune writes a
# run that resume fine-tunes, and prune/upcycle refuse what they cannot do; train.log keeps what the terminal
# showed; options and help come from CLI11. Ends with "N passed, N failed".
set -uo pipefail
cli="$1"; work="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
source "$(dirname "$0")/cli_checks.sh"

# a corpus of its own (not tiny Shakespeare), so eval must find it through the run
awk 'BEGIN { srand(4); split("alpha beta gamma delta epsilon zeta eta theta", w, " ");
             for (i = 0; i < 4000; i++) printf "%s%s", w[int(rand() * 8) + 1], (i % 9 == 8 ? ".\n" : " ") }' > "$work/corpus.txt"
tiny=(--data "$work/corpus.txt" --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4 --eval_iters=1
      --log_interval=1 --eval_interval=5)

"$cli" train "${tiny[@]}" --run "$work/run" --max_iters=1000000 > "$work/train.log" 2>&1 &
train_pid=$!
check "first checkpoint appears" wait_for "$work/run/checkpoints/latest.pt"
out="$("$cli" resume --run "$work/run" 2>&1)"; rc=$?
check "a second writer is refused" [ $rc -ne 0 ]
check "the refusal names the holder" contains "$out" "is in use by pid $train_pid"
kill -TERM $train_pid; wait $train_pid; rc=$?
check "SIGTERM exits 143" [ $rc -eq 143 ]
check "SIGTERM says where it stopped" contains "$(cat "$work/train.log")" "stopped at step"
step=$(grep -o 'stopped at step [0-9]*' "$work/train.log" | grep -o '[0-9]*$')
log="$(cat "$work/run/train.log")"
check "the run's train.log has what the terminal showed" contains "$log" "info    stopped at step $step; continue with"
check "and the save" contains "$log" "info    saved checkpoints/latest.pt at step $step"
check "with the time of each line" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]{12} info    run ' "$work/run/train.log"
out="$("$cli" resume --run "$work/run" --max_iters 1 2>&1)"; rc=$?
check "resume below the step is refused" [ $rc -ne 0 ]
check "and says why" contains "$out" "already at step $step"
out="$("$cli" resume --run "$work/run" --max_iters $((step + 2)) 2>&1)"; rc=$?
check "resume continues the stopped run" [ $rc -eq 0 ]
check "to its new end" contains "$out" "done:"
check "train.log keeps both sessions" contains "$(cat "$work/run/train.log")" "resumed at step $step on cpu"
out="$("$cli" resume --run "$work/run" --max_iters 1 2>&1 >/dev/null)"
check "errors go to stderr" contains "$out" "error: "
out="$("$cli" resume --run "$work/run" --max_iters $((step + 2)) 2>/dev/null)"
check "a complete run says so" contains "$out" "is complete at step $((step + 2))"
out="$("$cli" resume --run "$work/run" --max_iters $((step + 4)) 2>/dev/null)"
check "progress goes to stdout" contains "$out" "done: $work/run"

out="$("$cli" eval --checkpoint "$work/run/checkpoints/latest.pt" 2>&1)"; rc=$?
check "eval reads the run's own dataset" [ $rc -eq 0 ]
check "eval prints losses" contains "$out" "val loss"

for bad in "--n_layer=4294967297" "--max_iters=4294967298" "--dropout=1.5abc" "--learning_rate=1,5"; do
  out="$("$cli" train "${tiny[@]}" --run "$work/bad" "$bad" 2>&1)"; rc=$?
  key="${bad%%=*}"; key="${key#--}"
  check "$bad is refused" [ $rc -ne 0 ]
  check "$bad names its key" contains "$out" "$key: must be"
done
out="$("$cli" train "${tiny[@]}" --run "$work/huge" --n_layer=100000 --n_embd=1024 2>&1)"; rc=$?
check "a model larger than memory is refused" [ $rc -ne 0 ]
check "before allocating, naming n_layer" contains "$out" "n_layer: training would need about"
check "and leaves no run folder behind" [ ! -e "$work/huge/config.json" ]
out="$(ulimit -f 64; "$cli" train "${tiny[@]}" --run "$work/fsize" --max_iters=6 2>&1)"; rc=$?
check "past a file-size limit (ulimit -f) the save fails with its reason" contains "$out" "File too large"
check "exit 1, not killed by SIGXFSZ" [ $rc -eq 1 ]
check "and no half-written checkpoint is left" [ -z "$(find "$work/fsize" -name '*.tmp')" ]
out="$("$cli" bench "${tiny[@]}" --steps 0 2>&1)"; rc=$?
check "bench --steps 0 is refused" [ $rc -ne 0 ]
check "bench --steps 0 names the option" contains "$out" "--steps must be an integer between 1"
out="$("$cli" eval --checkpoint "$work/run/checkpoints/latest.pt" --batches 0 2>&1)"; rc=$?
check "eval --batches 0 is refused" [ $rc -ne 0 ]

out="$("$cli" generate --checkpoint "$work/run/checkpoints/latest.pt" --prompt "§" --length 5 2>/dev/null)"; rc=$?
check "an unknown prompt character fails" [ $rc -ne 0 ]
check "and prints nothing" [ -z "$out" ]

# interventions: a report and a per-character CSV; impossible ones are one-line errors naming what is wrong
out="$("$cli" intervene --checkpoint "$work/run/checkpoints/latest.pt" --layer 0 --disable 0 2>&1)"; rc=$?
check "a dense model cannot be intervened on" [ $rc -ne 0 ]
check "and says so" contains "$out" "a dense model has no experts"
"$cli" train "${tiny[@]}" --ffn=moe --n_experts=2 --top_k=1 --run "$work/moe" --max_iters=6 > /dev/null 2>&1
out="$("$cli" intervene --checkpoint "$work/moe/checkpoints/latest.pt" --layer 0 --disable 1 --batches 2 \
        --out "$work/delta.csv" 2>&1)"; rc=$?
check "intervene reports the validation loss" contains "$out" "validation loss"
check "and the loss per character class" contains "$out" "lower-case letters"
check "and writes the CSV" contains "$(sed -n 2p "$work/delta.csv")" "position,character,loss,loss_after,delta"
out="$("$cli" intervene --checkpoint "$work/moe/checkpoints/latest.pt" --layer 3 --force 0 2>&1)"; rc=$?
check "a layer the model lacks is refused" [ $rc -ne 0 ]
check "naming the layers it has" contains "$out" "layers 0 to 0"

# prune and upcycle: a new run that `resume` fine-tunes; what cannot be done is one line naming why
out="$("$cli" prune --run "$work/moe" --remove 1 --finetune 3 --no-train 2>&1)"; rc=$?
check "prune writes a new run" [ $rc -eq 0 ] && check "next to its source" [ -e "$work/moe-pruned/checkpoints/latest.pt" ]
check "and says how to fine-tune it" contains "$out" "moewb-cli resume --run $work/moe-pruned"
check "its train.log starts with where it came from" grep -q "info    pruned from " "$work/moe-pruned/train.log"
out="$("$cli" resume --run "$work/moe-pruned" 2>&1)"; rc=$?
check "resume fine-tunes the pruned run" [ $rc -eq 0 ]
check "with one expert left" contains "$(cat "$work/moe-pruned/config.json")" '"n_experts": 1'
out="$("$cli" prune --run "$work/moe" --min-share 0.0001 2>&1)"; rc=$?
check "nothing below the share is refused" [ $rc -ne 0 ]
check "naming the least used expert" contains "$out" "the least used: layer 0"
out="$("$cli" prune --run "$work/moe" --remove 1 --n_embd=32 2>&1)"; rc=$?
check "an architecture override is refused" [ $rc -ne 0 ] && check "naming the key" contains "$out" "n_embd"
out="$("$cli" prune --checkpoint "$work/run/checkpoints/latest.pt" --remove 1 2>&1)"; rc=$?
check "a dense run cannot be pruned" contains "$out" "a dense model has no experts to prune"
out="$("$cli" upcycle --run "$work/moe" 2>&1)"; rc=$?
check "an MoE run cannot be upcycled" [ $rc -ne 0 ] && check "and says so" contains "$out" "already has experts"

out="$("$cli" eval --checkpoint "$work/corpus.txt" 2>&1)"; rc=$?
check "a file that is no checkpoint fails" [ $rc -ne 0 ]
check "in one line, without a C++ backtrace" [ "$(wc -l <<<"$out")" -eq 1 ]

# options come from CLI11: per-command help, the config keys from the key table, strict numbers, last one wins
out="$("$cli" train --help)"; rc=$?
check "train --help succeeds" [ $rc -eq 0 ]
check "and lists the config keys by group" contains "$out" "Config: Routing:"
check "with their help" contains "$out" "--n_experts INT"
out="$("$cli" eval --help)"
check "eval --help has its own options" contains "$out" "--checkpoint FILE REQUIRED"
check "and no config keys" lacks "$out" "--n_layer"
check "help COMMAND is COMMAND --help" contains "$("$cli" help resume)" "Usage: moewb-cli resume [OPTIONS]"
out="$("$cli" 2>&1)"; rc=$?
check "no command prints the usage" [ $rc -eq 2 ] && check "listing the commands" contains "$out" "upcycle"
out="$("$cli" trian 2>&1)"; rc=$?
check "an unknown command is a usage error" [ $rc -eq 2 ]
check "naming it" contains "$out" "error: unknown command 'trian'"
out="$("$cli" train "${tiny[@]}" --bogus=1 2>&1)"; rc=$?
check "an unknown option is a usage error" [ $rc -eq 2 ] && check "naming it" contains "$out" "--bogus"
out="$("$cli" generate --checkpoint "$work/run/checkpoints/latest.pt" --length 0x10 2>&1)"; rc=$?
check "a hexadecimal count is refused" [ $rc -eq 2 ]
check "naming the option" contains "$out" "--length must be an integer between 0 and"
out="$("$cli" intervene --checkpoint "$work/run/checkpoints/latest.pt" --layer 0 --disable 1 --force 2 2>&1)"; rc=$?
check "--disable and --force exclude each other" [ $rc -eq 2 ] && check "and it says so" contains "$out" "excludes"
"$cli" train "${tiny[@]}" --run "$work/last" --max_iters=1 --n_layer=3 --n_layer=1 >/dev/null 2>&1
check "a repeated key takes its last value" grep -q '"n_layer": 1,' "$work/last/config.json"

finish
