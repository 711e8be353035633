#!/usr/bin/env bash
# Checks that the dynamic symbols of libwinnow.so that are functions are
# exactly the functions declared in winnow.h (none missing, none extra), and
# that exports.map lists the same names.
set -euo pipefail
header=${1:?usage: check_exports.sh winnow.h libwinnow.so}
lib=${2:?}
map=$(dirname "$0")/../../Sources/WinnowC/exports.map
declared=$(grep -oE '\bwn_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u)
mapped=$(grep -oE '^ +wn_[a-z0-9_]+;' "$map" | tr -d ' ;' | sort -u)
status=0
if missing=$(comm -23 <(echo "$declared") <(echo "$exported")) && [ -n "$missing" ]; then
  echo "declared in winnow.h but not exported:"; echo "$missing"; status=1
fi
if extra=$(comm -13 <(echo "$declared") <(echo "$exported")) && [ -n "$extra" ]; then
  echo "exported but not declared in winnow.h:"; echo "$extra"; status=1
fi
if [ "$declared" != "$mapped" ]; then
  echo "exports.map differs from winnow.h:"; diff <(echo "$declared") <(echo "$mapped") || true; status=1
fi
echo "$(echo "$declared" | wc -l) functions declared, $(echo "$exported" | wc -l) exported"
exit $status
