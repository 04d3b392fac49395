#!/usr/bin/env bash
# Creates (once) a virtualenv with pinned GuideLLM (0.3.x: the CLI the Python
# auto-tune-vllm drives, and no torch dependency) plus a tiny word-level
# tokenizer built locally — GuideLLM needs one to size synthetic prompts and
# tests must not download from a model hub. Prints the bin directory; the
# tokenizer is in ../tokenizer beside it. Idempotent like ray-venv.sh.
set -euo pipefail
. "$(dirname "$0")/venv-lib.sh"

GUIDELLM_VERSION=${GUIDELLM_VERSION:-0.3.1}
GUIDELLM_VENV=${GUIDELLM_VENV:-$cache/guidellm-$GUIDELLM_VERSION}
lock "guidellm-$GUIDELLM_VERSION"
stamp="$GUIDELLM_VENV/.atv-installed-$GUIDELLM_VERSION"

if [ -f "$stamp" ] && [ -x "$GUIDELLM_VENV/bin/guidellm" ]; then
  echo "$GUIDELLM_VENV/bin"
  exit 0
fi

echo "installing guidellm==$GUIDELLM_VERSION into $GUIDELLM_VENV" >&2
venv_install "$GUIDELLM_VENV" "guidellm==$GUIDELLM_VERSION"
# Two-letter words are its vocabulary; anything else maps to [UNK], which
# still counts one token per word — all a load test needs.
TRANSFORMERS_NO_ADVISORY_WARNINGS=1 "$GUIDELLM_VENV/bin/python" - "$GUIDELLM_VENV/tokenizer" <<'PY' >&2
import string, sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
words = [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase]
tok.train_from_iterator([" ".join(words)], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(sys.argv[1])
PY
touch "$stamp"
echo "$GUIDELLM_VENV/bin"
