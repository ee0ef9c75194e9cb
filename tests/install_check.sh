#!/usr/bin/env bash
# The project as a desktop program: `cmake --install` lays out bin/, the presets, the menu entry and its icon;
# the installed programs run and say their version (the app without a display); runs made without --run go
# into the runs directory the app uses too ($MOEWB_RUNS_DIR, else $XDG_DATA_HOME/moewb/runs, else
# ~/.local/share/moewb/runs), never into the working directory. Ends with "N passed, N failed".
# install_check.sh CMAKE BUILD_DIR VERSION GUI(1|0)
set -uo pipefail
cmake="$1"; build="$2"; version="$3"; gui="$4"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/cli_checks.sh"
prefix="$work/prefix"; cli="$prefix/bin/moewb-cli"

"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1; rc=$?
check "cmake --install succeeds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || cat "$work/install.log" >&2
check "installs moewb-cli" [ -x "$cli" ]
for preset in cpu-quick paper; do
  check "installs the $preset preset" [ -s "$prefix/share/moewb/presets/$preset.json" ]
done
check "the CLI's libraries are all found" lacks "$(ldd "$cli" 2>&1)" "not found"
out="$("$cli" --version 2>&1)"; rc=$?
check "moewb-cli --version exits 0" [ $rc -eq 0 ]
check "and says the project's version" [ "$(head -n 1 <<<"$out")" = "moewb-cli $version" ]
check "and the LibTorch built in" contains "$out" "LibTorch "
out="$("$cli" presets 2>&1)"; rc=$?
check "the installed moewb-cli runs" [ $rc -eq 0 ] && check "and lists the presets" contains "$out" "cpu-quick:"

if [ "$gui" = 1 ]; then
  check "installs moewb" [ -x "$prefix/bin/moewb" ]
  check "the app's libraries are all found" lacks "$(ldd "$prefix/bin/moewb" 2>&1)" "not found"
  check "installs the menu entry" [ -s "$prefix/share/applications/moewb.desktop" ]
  check "installs the icon" grep -q '<svg' "$prefix/share/icons/hicolor/scalable/apps/moewb.svg"
  if command -v desktop-file-validate >/dev/null; then
    check "the menu entry is valid" desktop-file-validate "$prefix/share/applications/moewb.desktop"
  fi
  # no display and no platform named: a QApplication would abort here
  out="$(env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$prefix/bin/moewb" --version 2>&1)"; rc=$?
  check "moewb --version exits 0 without a display" [ $rc -eq 0 ]
  check "and says the project's version" [ "$(head -n 1 <<<"$out")" = "moewb $version" ]
fi

# where runs go without --run: a tiny dense model, two steps
awk 'BEGIN { srand(5); for (i = 0; i < 3000; i++) printf "%s", substr("abcdefgh \n", int(rand() * 10) + 1, 1) }' \
  > "$work/corpus.txt"
tiny=(--data "$work/corpus.txt" --ffn=dense --n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4
      --eval_iters=1 --eval_interval=2 --max_iters=2)
mkdir -p "$work/cwd" "$work/home"
train_here() {  # train_here ENV...: trains from an empty working directory; prints what it printed
  (cd "$work/cwd" && env -u MOEWB_RUNS_DIR -u XDG_DATA_HOME "$@" "$cli" train "${tiny[@]}" 2>&1)
}
only_run_under() {  # only_run_under DIR: DIR holds exactly one run, with its checkpoint
  local runs=("$1"/*-dense)
  [ ${#runs[@]} -eq 1 ] && [ -e "${runs[0]}/checkpoints/latest.pt" ]
}
out="$(train_here XDG_DATA_HOME="$work/xdg" HOME="$work/home")"; rc=$?
check "train without --run succeeds" [ $rc -eq 0 ]
check "and puts the run under \$XDG_DATA_HOME/moewb/runs" only_run_under "$work/xdg/moewb/runs"
check "and says where" contains "$out" "run $work/xdg/moewb/runs/"
check "not in the working directory" [ -z "$(ls -A "$work/cwd")" ]
out="$(train_here HOME="$work/home")"
check "without XDG_DATA_HOME: ~/.local/share/moewb/runs" only_run_under "$work/home/.local/share/moewb/runs"
out="$(train_here XDG_DATA_HOME="$work/xdg2" MOEWB_RUNS_DIR="$work/mine")"
check "MOEWB_RUNS_DIR wins" only_run_under "$work/mine"
check "over XDG_DATA_HOME" [ ! -e "$work/xdg2" ]
out="$(XDG_DATA_HOME="$work/xdg" "$cli" suite --help 2>&1)"
check "suite's default folder is in the runs directory" contains "$out" "$work/xdg/moewb/runs/paper-suite"

finish
