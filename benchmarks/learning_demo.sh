#!/bin/bash
# Issue 8's done-when, by hand: a handful of cloud-labelled examples → Learn now → history →
# rollback, through the README's commands. The cloud is Qwen2.5-Coder-1.5B ([large] extra)
# served by llama-cpp-python on 127.0.0.1; the local model SmolLM2 (fast on a shared CPU).
#   benchmarks/learning_demo.sh [DATA_FOLDER]      (default: a new temporary folder)
set -u
cd "$(dirname "$0")/.."
export HEARTH_HOME=${1:-$(mktemp -d)} OMP_WAIT_POLICY=PASSIVE
echo "data folder: $HEARTH_HOME"
H=.venv/bin/hearth
PORT=58123
TEACHER=$(.venv/bin/python -c "from agent.model_registry import get_model; print(get_model('qwen2.5-coder-1.5b').resolve())")
.venv/bin/python -m llama_cpp.server --model "$TEACHER" \
  --model_alias qwen2.5-coder-1.5b --host 127.0.0.1 --port $PORT --n_ctx 4096 --n_threads 2 --seed 0 \
  > "$HEARTH_HOME/teacher-server.log" 2>&1 &
SERVER=$!
trap "kill $SERVER" EXIT
for i in $(seq 60); do curl -s http://127.0.0.1:$PORT/v1/models >/dev/null && break; sleep 2; done
.venv/bin/python - <<'PY'
from memory.db import Database
from memory.settings import load_settings, save_settings
db = Database(); s = load_settings(db); s.model = "smollm2-135m"; s.use_memory = True; save_settings(db, s); db.close()
PY
$H cloud enable --endpoint http://127.0.0.1:$PORT/v1 --model qwen2.5-coder-1.5b --policy fallback --training-consent yes --timeout 300
$H cloud status
F=tests/experts/data/faces
ask() { echo "### hearth ask $*"; /usr/bin/time -f "%e s" $H ask "$@" 2>&1 | tail -4; }
ask "Who is in this photo?" --attach $F/biden.jpg
ask "Is the person in this picture standing or sitting?" --attach $F/obama-speech.jpg
ask "How many people are in this photo, and who are they?" --attach $F/obama-portrait.jpg
ask "What objects can you see in this image?" --attach $F/biden.jpg
ask "Search my notes for anything about my dentist appointment."
ask "What did I tell you about my sister's birthday?"
ask "Describe the posture of the people in this photo." --attach $F/obama-portrait.jpg
$H outbox list
for id in $(.venv/bin/python -c "
from memory.db import Database; from sync.outbox import Outbox
db = Database(); print(' '.join(str(e.id) for e in Outbox(db).list(status='awaiting_approval'))); db.close()"); do
  echo "### approve $id"; /usr/bin/time -f "%e s" $H outbox approve $id 2>&1 | tail -3
done
$H outbox list
echo "### learn now"; /usr/bin/time -f "%e s" $H learn now --general 6
$H learn history
$H learn base
$H learn history | tail -1
NIGHT=$($H learn history --json | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)[-1]['night'])")
$H learn rollback "$NIGHT"
$H learn history | tail -1
