#!/usr/bin/env bash
# moewb-cli as a user meets it: SIGTERM stops a run with a checkpoint that resumes; values that used to wrap or
# half-parse are one-line errors naming the option; resume cannot shorten a run below its step; a second writer
# is refused naming the first; eval reads the run's own dataset; an unknown prompt character prints nothing;
# zero-step benches and evals are refused; interventions report and refuse impossible requests; prune writes a
# run that resume fine-tunes, and prune/upcycle refuse what they cannot do; train.log keeps what the terminal
# showed; a checkpoint without its frame warns, a damaged one or an invalid stored config is one line naming it; a
# FIFO or a folder as --data is refused at once; a large text loads within an address-space limit that its tokens
# fit, else says so; --temperature is checked; options and help come from CLI11. Ends with "N passed, N failed".
set -uo pipefail
cli="$1"; work="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
source "$(dirname "$0")/cli_checks.sh"

# a corpus of its own (not tiny Shakespeare), so eval must find it through the run
awk 'BEGIN { srand(4); split("alpha beta gamma delta epsilon zeta eta theta", w, " ");
             for (i = 0; i < 4000; i++) printf "%s%s", w[int(rand() * 8) + 1], (i % 9 == 8 ? ".\n" : " ") }' > "$work/corpus.txt"
tiny=(--data "$work/corpus.txt" --ffn=dense --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4 --eval_iters=1
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

# a checkpoint from before the checksum frame (the archive alone) loads with a warning that nothing verified it;
# damage to one is a one-line error naming it, and so is a stored config no run could have (n_head 0 divided by
# zero: SIGFPE)
ck="$work/run/checkpoints/latest.pt"
tail -c +17 "$ck" | head -c -8 > "$work/bare.pt"
out="$("$cli" eval --checkpoint "$work/bare.pt" --data "$work/corpus.txt" 2>&1 >/dev/null)"; rc=$?
check "a checkpoint without its frame still loads" [ $rc -eq 0 ]
check "with a warning that it is unverified" contains "$out" "warning: '$work/bare.pt' has no checksum"
LC_ALL=C sed '0,/class Module(Module)/s//clqss Module(Module)/' "$work/bare.pt" > "$work/bare_code.pt"
out="$("$cli" eval --checkpoint "$work/bare_code.pt" 2>&1)"; rc=$?
check "damaged code in it is refused" [ $rc -eq 1 ]
check "in one line naming the file" [ "$(wc -l <<<"$out")" -eq 1 ] && contains "$out" "'$work/bare_code.pt' is damaged"
LC_ALL=C sed 's/"n_head": 2/"n_head": 0/' "$work/bare.pt" > "$work/n_head_0.pt"
for command in "eval" "generate --length 3" "trace --text alpha"; do
  out="$("$cli" $command --checkpoint "$work/n_head_0.pt" 2>&1)"; rc=$?
  check "${command%% *}: a stored n_head of 0 is an error, not SIGFPE" [ $rc -eq 1 ]
  check "${command%% *}: naming the file and the key" \
    contains "$out" "cannot load '$work/n_head_0.pt': its stored config is invalid: n_head: must be at least 1"
done

# a FIFO or a folder as --data is refused at once, naming it (a FIFO waited for a writer, deaf to SIGTERM)
mkfifo "$work/fifo.txt"; mkdir "$work/folder.txt"
out="$(timeout 60 "$cli" eval --checkpoint "$ck" --data "$work/fifo.txt" 2>&1)"; rc=$?
check "a FIFO as --data is refused at once" [ $rc -eq 1 ]
check "naming it" contains "$out" "cannot read '$work/fifo.txt': it is not a regular file"
out="$("$cli" eval --checkpoint "$ck" --data "$work/folder.txt" 2>&1)"
check "a folder as --data is refused naming it" contains "$out" "cannot read '$work/folder.txt': it is a folder"

# a text is read into its token array (4 bytes a character), not held whole beside it: 150 MB loads within a 2 GB
# address space (it took 13 bytes a character, 2.0 GB beyond the process's own), and one whose tokens cannot fit
# says so instead of aborting; one BLAS thread keeps the process's own address space small on any machine
yes "alpha beta gamma delta epsilon" | head -c 150000000 > "$work/150mb.txt"
out="$(ulimit -v 2000000; OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 timeout 120 "$cli" train --data "$work/150mb.txt" \
        --block_size=2000000000 --run "$work/big" 2>&1)"
check "150 MB of text loads within 2 GB of address space" contains "$out" "the smaller split has 15000000 characters"
rm "$work/150mb.txt"
yes "alpha beta gamma delta epsilon" | head -c 600000000 > "$work/600mb.txt"
out="$(ulimit -v 2000000; OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 timeout 120 "$cli" train --data "$work/600mb.txt" \
        --block_size=2000000000 --run "$work/big" 2>&1)"; rc=$?
check "a text whose tokens cannot fit is an error" [ $rc -eq 1 ]
check "naming it and the sizes" contains "$out" "not enough memory to load '$work/600mb.txt' (572 MiB of text → 2.2 GiB of tokens)"
rm "$work/600mb.txt"

# a model too wide for memory is refused on n_embd, the key that was raised (the form shows the error under it)
out="$("$cli" train "${tiny[@]}" --run "$work/wide" --n_embd=65536 --n_head=4 2>&1)"; rc=$?
check "a model too wide is refused on n_embd" contains "$out" "n_embd: training would need about"
check "naming the sizes" contains "$out" "reduce n_embd (the weights grow with n_layer × n_embd² = 1 × 65536²)"

# --temperature: 0 is greedy; below 0.01 (but above 0), negative or not finite it is a usage error naming it
for t in -1 1e-300 0.005 nan inf; do
  out="$("$cli" generate --checkpoint "$ck" --length 3 --temperature "$t" 2>&1)"; rc=$?
  check "--temperature $t is a usage error" [ $rc -eq 2 ]
  check "--temperature $t names the option" contains "$out" "--temperature must be 0 (greedy) or a number of at least 0.01"
done
check "--temperature 0 is greedy" [ "$("$cli" generate --checkpoint "$ck" --length 8 --temperature 0 --seed 1)" = \
                                     "$("$cli" generate --checkpoint "$ck" --length 8 --temperature 0 --seed 2)" ]

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
"$cli" train --data "$work/corpus.txt" --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4 --eval_iters=1 \
  --run "$work/default" --max_iters=1 >/dev/null 2>&1
check "train without --preset is a top-2 MoE" grep -q '"ffn": "moe",' "$work/default/config.json"
check "with the load-balancing loss" grep -q '"aux_alpha": 0.01,' "$work/default/config.json"

finish
