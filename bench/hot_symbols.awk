# Matches bench/hot-symbols.txt against the symbols a build defines, ignoring the hashes in
# Rust symbol names (they change with the compiler version and the dependency set).
#   awk -v mode=resolve -f bench/hot_symbols.awk DEFINED LIST   the list in the build's names
#   awk -v mode=count -f bench/hot_symbols.awk DEFINED LIST     how many listed names it has
#   awk -v mode=extent -f bench/hot_symbols.awk DEFINED LIST    bytes from the first listed
#                                                               function to the end of the last
# DEFINED is `nm --defined-only -P` output (name, type, hex value, hex size; `-S` for sizes of
# a linked binary); `-` reads it from standard input.

# A symbol's name without its hashes: legacy names end in `17h<16 hex digits>E`; v0 names
# carry crate disambiguators (`Cs<base 62>_`) and back references into themselves
# (`B<base 62>_`) whose numbers move with them. LTO's `.llvm.<n>` copies and callgrind's
# recursion marks (`'2`) are dropped too.
function symbol_key(s) {
  sub(/'[0-9]+$/, "", s)
  sub(/\.llvm\.[0-9]+$/, "", s)
  if (s ~ /^_ZN/) {
    sub(/17h[0-9a-f]+E$/, "E", s)
  } else if (s ~ /^_R/) {
    gsub(/Cs[0-9A-Za-z]*_/, "C", s)
    gsub(/B[0-9A-Za-z]*_/, "B_", s)
  }
  return s
}

NR == FNR {
  if (NF < 2) next  # an archive member's heading
  name = $1
  if (NF >= 4) { start[name] = hex($3); end[name] = hex($3) + hex($4) }
  k = symbol_key(name)
  if (!(k in defined)) defined[k] = name
  else if (index(" " defined[k] " ", " " name " ") == 0) defined[k] = defined[k] " " name
  next
}

{
  k = symbol_key($0)
  if (mode == "count") { if (k in defined) found++; next }
  if (mode == "extent") {
    if (!(k in defined)) next
    n = split(defined[k], names, " ")
    for (i = 1; i <= n; i++) {
      if (!(names[i] in start)) continue
      if (low == "" || start[names[i]] < low) low = start[names[i]]
      if (end[names[i]] > high) high = end[names[i]]
    }
    next
  }
  if (!(k in defined)) { emit($0); next }
  n = split(defined[k], names, " ")
  for (i = 1; i <= n; i++) emit(names[i])
}

function emit(name) {
  if (!(name in seen)) { seen[name] = 1; print name }
}

function hex(h,    i, v) {
  v = 0
  h = tolower(h)
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}

END {
  if (mode == "count") print found + 0
  if (mode == "extent") print (low == "" ? 0 : high - low)
}
