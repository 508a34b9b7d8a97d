#!/usr/bin/env bash
# compare-bits.sh BASE_REF [HEAD_REF]: is HEAD_REF's behaviour bit-identical to BASE_REF's for fixed seeds?
# Builds both refs in fresh git worktrees under a temp dir (npm ci), runs the same small, seeded commands on each
# (npm start's model file, `nablax train` of a few zoo models, `attack` for every attack name the CLI accepts,
# `linear`, `trace`, `adv-train` for every method, `reproduce goodfellow2015 --quick`) and compares the artefacts
# with scripts/compare-bits.mjs: model files byte for byte (sha256), JSON after dropping timing fields and
# normalising the run folder's path. One line per artefact; exit 0 when all are the same, 1 on any difference, 2 on
# bad usage. HEAD_REF defaults to HEAD (commit first: the working tree's uncommitted changes are not compared).
# Environment: COMPARE_BITS_DIR (work folder, default a fresh mktemp -d; kept, it holds the results),
# COMPARE_BITS_ONLY (a regex: run only the artefacts whose name matches it, to debug one),
# COMPARE_BITS_KEEP=1 (keep the two worktrees and their node_modules), NABLAX_CHECK_ARGS=1 (check the arguments, that
# both refs are commits of this repository, then exit 0: what the README test runs). Runtime: a few minutes idle.
set -euo pipefail

usage() { echo "usage: scripts/compare-bits.sh BASE_REF [HEAD_REF]   (e.g. scripts/compare-bits.sh 4aa186f)" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
[[ $1 == -h || $1 == --help ]] && usage
repo=$(git rev-parse --show-toplevel) || { echo "compare-bits: not inside a git repository" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=$(git -C "$repo" rev-parse --verify --quiet "$1^{commit}") || { echo "compare-bits: BASE_REF '$1' is not a commit" >&2; exit 2; }
head=$(git -C "$repo" rev-parse --verify --quiet "${2:-HEAD}^{commit}") || { echo "compare-bits: HEAD_REF '${2:-HEAD}' is not a commit" >&2; exit 2; }
[[ ${NABLAX_CHECK_ARGS:-0} == 1 ]] && exit 0
only=${COMPARE_BITS_ONLY:-.}
work=${COMPARE_BITS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/compare-bits.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)

cleanup() {
  if [[ ${COMPARE_BITS_KEEP:-0} != 1 ]]; then
    for side in base head; do
      [[ -d $work/$side ]] && git -C "$repo" worktree remove --force "$work/$side" >/dev/null 2>&1 || true
      rm -f "$work/$side.built"
    done
    git -C "$repo" worktree prune >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }

# ---- build both refs ----
for side in base head; do
  ref=$base; [[ $side == head ]] && ref=$head
  if [[ ! -d $work/$side ]]; then
    git -C "$repo" worktree add --detach "$work/$side" "$ref" >/dev/null 2>&1 \
      || { echo "compare-bits: git worktree add $work/$side $ref failed" >&2; exit 1; }
  else
    git -C "$work/$side" checkout --quiet --detach "$ref" || { echo "compare-bits: checkout $ref in $work/$side failed" >&2; exit 1; }
  fi
  say "compare-bits: $side = $(git -C "$work/$side" log -1 --format='%h %s' | cut -c1-90)"
  [[ -f $work/$side.built && $(cat "$work/$side.built") == "$ref" ]] && continue # a kept COMPARE_BITS_DIR builds once
  say "compare-bits: npm ci in $work/$side"
  (cd "$work/$side" && npm ci --no-audit --no-fund >"$work/$side.npm-ci.log" 2>&1) \
    || { echo "compare-bits: npm ci failed in $work/$side (see $work/$side.npm-ci.log)" >&2; exit 1; }
  echo "$ref" >"$work/$side.built"
done

# ---- the artefacts: NAME|ARGS (run in the results folder; every output path is relative to it) ----
# Attacks run against the BASE side's trained models (copied to $work/fixtures), so an attack difference is the
# attack's, not the training's; each side's own trained models are compared as artefacts of their own.
nablax_list() { # the names a CLI lists in "unknown X 'bogus' (expected a, b, c)"
  { node "$work/base/dist/src/cli/main.js" "$@" 2>&1 >/dev/null || true; } | sed -n "s/.*(expected \([^)]*\)).*/\1/p" | tr -d ' ' | tr ',' ' '
}
attack_names=$(nablax_list attack --model-file /nonexistent.safetensors --attack compare-bits-bogus)
methods=$(nablax_list adv-train --method compare-bits-bogus)
[[ -n $attack_names && -n $methods ]] || { echo "compare-bits: could not read the attack names or adv-train methods from the base CLI" >&2; exit 1; }
say "compare-bits: attacks: $attack_names"
say "compare-bits: adv-train methods: $methods"

F=../../fixtures
artefacts=()
artefacts+=("train-mlp|train --model mlp --epochs 1 --train-limit 512 --test-limit 200 --seed 0 --out train-mlp/model.safetensors --json")
artefacts+=("train-cnn-bn|train --model cnn-bn --epochs 1 --train-limit 256 --batch-size 64 --test-limit 100 --seed 1 --out train-cnn-bn/model.safetensors --json")
artefacts+=("train-maxout|train --model maxout --epochs 1 --train-limit 256 --test-limit 100 --optimizer momentum --lr 0.01 --momentum 0.9 --lr-schedule constant --seed 2 --out train-maxout/model.safetensors --json")
for a in $attack_names; do
  case $a in
    fgm|pgd-l2|cw-l2|deepfool|square-l2) opts="--eps 1,2 --steps 5" ;;
    one-pixel) opts="--eps 0.3 --pixels 1 --population 16 --generations 3" ;;
    square) opts="--eps 0.1,0.3 --max-queries 40" ;;
    autoattack) opts="--eps 0.3 --steps 3 --max-queries 20" ;;
    *) opts="--eps 0.1,0.3 --steps 5" ;;
  esac
  case $a in square-l2) opts="$opts --max-queries 40" ;; esac
  artefacts+=("attack-$a|attack --model-file $F/mlp.safetensors --attack $a $opts --test-limit 12 --seed 3 --json")
done
artefacts+=("attack-targeted|attack --model-file $F/mlp.safetensors --attack fgsm,bim,pgd,mifgsm,pgd-l2 --target least-likely --eps 0.2 --steps 5 --test-limit 12 --seed 4 --json")
artefacts+=("attack-restarts|attack --model-file $F/mlp.safetensors --attack pgd --restarts 3 --no-early-stop --eps 0.15 --steps 4 --test-limit 12 --seed 5 --json")
artefacts+=("attack-apgd-l2|attack --model-file $F/mlp.safetensors --attack apgd-ce,apgd-dlr --norm l2 --eps 1.5 --steps 5 --test-limit 12 --seed 6 --json")
artefacts+=("attack-cnn-bn|attack --model-file $F/cnn-bn.safetensors --attack fgsm,bim,pgd,mifgsm --eps 0.2 --steps 4 --test-limit 8 --batch-size 5 --seed 7 --json")
artefacts+=("linear|linear --model-file $F/mlp.safetensors --test-limit 20 --json")
artefacts+=("trace|trace --model-file $F/cnn-bn.safetensors --index 3 --json --with-dx")
for m in $methods; do
  case $m in
    pgd|advprop|trades|mart) opts="--steps 3" ;;
    *) opts="" ;;
  esac
  case $m in pgd) opts="$opts --ema 0.9 --eps-warmup 1" ;; trades) opts="--steps-schedule 1:2" ;; esac
  artefacts+=("adv-train-$m|adv-train --method $m --model cnn-bn $opts --epochs 1 --train-limit 128 --batch-size 64 --test-limit 50 --robust-limit 8 --epoch-test-limit 8 --final-attack-steps 2 --seed 8 --out adv-train-$m --json")
done
artefacts+=("reproduce-goodfellow2015|reproduce goodfellow2015 --quick --seed 0 --out reproduce-goodfellow2015 --json")
artefacts+=("demo|npm start --silent -- --epochs 1 --seed 0 --out @RUN@/demo --json")

run_side() {
  local side=$1
  local out=$work/results/$side
  # a full run starts from an empty folder; a COMPARE_BITS_ONLY run replaces only its own artefacts' outputs
  if [[ $only == . ]]; then rm -rf "$out"; fi
  mkdir -p "$out"
  local t0=$SECONDS i=0
  for entry in "${artefacts[@]}"; do
    local name=${entry%%|*} cmd=${entry#*|}
    i=$((i + 1))
    [[ $name =~ $only ]] || continue
    rm -rf "${out:?}/$name" "$out/$name".* # this artefact's previous outputs (its folder, if any, has its name)
    say "compare-bits: [$side $i/${#artefacts[@]}, $((SECONDS - t0)) s] $name"
    local rc=0
    if [[ $cmd == "npm start"* ]]; then
      (cd "$work/$side" && eval "${cmd//@RUN@/$out}") >"$out/$name.stdout.json" 2>"$out/$name.stderr" || rc=$?
    else
      (cd "$out" && eval "node '$work/$side/dist/src/cli/main.js' $cmd") >"$out/$name.stdout.json" 2>"$out/$name.stderr" || rc=$?
    fi
    echo "$rc" >"$out/$name.exit"
    [[ $rc == 0 ]] || say "compare-bits: $side $name exited $rc: $(tail -n 1 "$out/$name.stderr")"
  done
}

mkdir -p "$work/fixtures"
# the fixtures: the base side's mlp and cnn-bn, trained once with the train artefacts' settings
if [[ ! -f $work/fixtures/cnn-bn.safetensors ]]; then
  say "compare-bits: fixtures (base's trained mlp and cnn-bn)"
  (cd "$work/fixtures" && node "$work/base/dist/src/cli/main.js" train --model mlp --epochs 1 --train-limit 512 --test-limit 200 --seed 0 --out mlp.safetensors >/dev/null 2>&1 \
    && node "$work/base/dist/src/cli/main.js" train --model cnn-bn --epochs 1 --train-limit 256 --batch-size 64 --test-limit 100 --seed 1 --out cnn-bn.safetensors >/dev/null 2>&1) \
    || { echo "compare-bits: training the fixtures on the base side failed" >&2; exit 1; }
fi

run_side base
run_side head
say "compare-bits: results in $work/results/{base,head}"
node "$here/compare-bits.mjs" "$work/results/base" "$work/results/head"
