#!/usr/bin/env bash
# Rewrites each library's PublicAPI.Unshipped.txt from its code, after an intended change of the public API
# (the build fails with RS0016 for a public member missing from the files and RS0017 for one that is gone).
# PublicAPI.Shipped.txt is left alone: it lists the API of released versions, which an Unshipped entry
# "*REMOVED*<line>" retracts. Review the result with `git diff -- '*PublicAPI*'`.
# Needs only the .NET SDK; takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

for project in Native/Native.csproj Slab/Slab.csproj VmaCore/VmaCore.csproj; do
  unshipped="$(dirname "$project")/PublicAPI.Unshipped.txt"
  # Start from the header alone, so entries of removed members go too (dotnet format cannot fix RS0017), then
  # let RS0016's code fix declare every public member that Shipped does not list. One project per run:
  # dotnet format applies the fix to one project's files only when given a whole solution.
  echo '#nullable enable' > "$unshipped"
  dotnet format analyzers "$project" --diagnostics RS0016 --severity warn
  echo "$unshipped: $(($(wc -l < "$unshipped") - 1)) entries"
done
