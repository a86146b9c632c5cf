/*
 * test_cxx_new_delete: C++ programs run on flymalloc through libstdc++'s
 * operator new and delete.
 *
 * Run under LD_PRELOAD and linked with libflymalloc.a (flytest: static).
 * Proves: new/delete, new[]/delete[], sized delete (C++14, which may pass the
 * size down to free_sized), over-aligned new (alignas(64) objects and
 * operator new with std::align_val_t up to 64 KiB) return aligned memory
 * that flymalloc owns; containers (vector growth, string, map,
 * unordered_map, deque) churn correctly; exceptions, whose objects libstdc++
 * allocates with malloc, are thrown and caught; std::thread workers pass
 * heap objects to each other and delete them.
 */
#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "flyprobe.h"

struct alignas(64) Cache {
    char data[100];
};

struct Node {
    std::string name;
    std::vector<int> v;
    Node(int i) : name("node-" + std::to_string(i)), v((size_t)i % 100, i) {}
};

int main()
{
    fly_probe_require_active();

    uint64_t before = fly_probe_nmalloc();
    int *x = new int(5);
    CHECK(fly_probe_nmalloc() > before, "operator new does not reach flymalloc");
    CHECK(fly_malloc_usable_size(x) >= sizeof(int), "operator new block unknown to flymalloc");
    delete x;

    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i * 37 % 70000) + 1;
        char *a = new char[n];
        a[0] = a[n - 1] = 'x';
        delete[] a;
        Node *nd = new Node(i);
        CHECK(nd->name == "node-" + std::to_string(i), "Node");
        delete nd; /* sized delete */
    }

    std::vector<std::unique_ptr<Cache>> caches;
    for (int i = 0; i < 1000; i++) {
        caches.emplace_back(new Cache);
        CHECK(((uintptr_t)caches.back().get() & 63) == 0, "alignas(64) new misaligned: %p",
              (void *)caches.back().get());
    }
    caches.clear();
    for (size_t al = 16; al <= 65536; al <<= 1) {
        void *p = ::operator new(1000, std::align_val_t(al));
        CHECK(((uintptr_t)p & (al - 1)) == 0, "operator new(align %zu) = %p", al, p);
        CHECK(fly_malloc_usable_size(p) >= 1000, "aligned new block unknown to flymalloc");
        ::operator delete(p, 1000, std::align_val_t(al));
    }

    std::map<std::string, std::vector<std::string>> m;
    std::unordered_map<int, std::string> um;
    std::deque<std::string> dq;
    for (int i = 0; i < 50000; i++) {
        std::string k = std::to_string(i % 5000);
        m[k].push_back(std::string((size_t)(i % 300), 'a' + (char)(i % 26)));
        um[i] = k + k;
        dq.push_back(k);
        if (dq.size() > 1000)
            dq.pop_front();
        if (i % 3 == 0)
            um.erase(i / 2);
    }
    size_t total = 0;
    for (auto &kv : m)
        total += kv.second.size();
    CHECK(total == 50000, "map holds %zu strings", total);
    CHECK(m.size() == 5000, "map size %zu", m.size());

    int caught = 0;
    for (int i = 0; i < 10000; i++) {
        try {
            throw std::runtime_error(std::string(100 + (size_t)i % 500, 'e'));
        } catch (const std::exception &e) {
            caught += std::string(e.what()).size() >= 100;
        }
    }
    CHECK(caught == 10000, "caught %d exceptions", caught);

    std::mutex mu;
    std::vector<Node *> shared;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 20000; i++) {
                Node *n = new Node(i + t);
                Node *other = nullptr;
                {
                    std::lock_guard<std::mutex> g(mu);
                    shared.push_back(n);
                    if (shared.size() > 64) {
                        std::swap(shared[(size_t)i % shared.size()], shared.back());
                        other = shared.back();
                        shared.pop_back();
                    }
                }
                if (other) {
                    CHECK(other->name.compare(0, 5, "node-") == 0, "node corrupted across threads");
                    delete other;
                }
            }
        });
    for (auto &t : ts)
        t.join();
    for (Node *n : shared)
        delete n;
    return 0;
}
