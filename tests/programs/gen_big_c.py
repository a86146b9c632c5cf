# gen_big_c.py: writes a large C program (about 20,000 lines) for gcc_large.sh.
# Many functions with loops, switches, structs, arrays and string literals,
# so that cc1 builds big trees, RTL and symbol tables.  main() calls every
# function and prints one checksum per 100 functions.
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 800
out = []
w = out.append
w("#include <stdio.h>")
w("#include <string.h>")
w("#include <stdint.h>")
w("struct pt { int x, y; double w; char tag[16]; };")
for i in range(N):
    w(f"static const char *names_{i}[] = {{ \"alpha{i}\", \"beta{i}\", \"gamma{i}\", \"delta{i * 7}\" }};")
    w(f"static uint64_t f{i}(uint64_t a, int n)")
    w("{")
    w(f"    struct pt p[{4 + i % 5}];")
    w("    uint64_t acc = a;")
    w(f"    for (int k = 0; k < (int)(sizeof p / sizeof p[0]); k++) {{")
    w(f"        p[k].x = k * {i % 13 + 1}; p[k].y = (int)(acc >> (k % 7)); p[k].w = k * 0.5 + {i};")
    w(f"        snprintf(p[k].tag, sizeof p[k].tag, \"%s%d\", names_{i}[k % 4], k);")
    w("        acc = acc * 6364136223846793005ULL + (uint64_t)p[k].x + strlen(p[k].tag);")
    w("    }")
    w("    for (int j = 0; j < n; j++) {")
    w(f"        switch ((acc + (uint64_t)j) % {3 + i % 6}) {{")
    for c in range(3 + i % 6):
        w(f"        case {c}: acc ^= acc << {1 + (c + i) % 13}; acc += {c * 31 + i}; break;")
    w("        default: acc = ~acc; break;")
    w("        }")
    w("    }")
    w(f"    return acc + (uint64_t)(p[0].w * {i % 17 + 1}) + (uint64_t)p[1].y;")
    w("}")
w("int main(void)")
w("{")
w("    uint64_t sum = 0;")
for i in range(N):
    w(f"    sum += f{i}(sum + {i}, {i % 50 + 10});")
    if i % 100 == 99:
        w(f"    printf(\"%d %llu\\n\", {i}, (unsigned long long)sum);")
w("    printf(\"total %llu\\n\", (unsigned long long)sum);")
w("    return 0;")
w("}")
print("\n".join(out))
