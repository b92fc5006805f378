# Sourced by the example scripts: `timed NAME COMMAND...` runs a step unless "$out/NAME/report.json"
# says it finished, and appends its wall time in seconds to "$out/NAME/wall-seconds".
timed() {
  local name=$1; shift
  if [ -f "$out/$name/report.json" ]; then echo "$name: done"; return; fi
  local start=$SECONDS
  "$@"
  echo $((SECONDS - start)) >> "$out/$name/wall-seconds"
}
