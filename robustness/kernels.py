"""numba kernels of the perturbation engine: counter-based randomness and re-tagging edits.

Randomness is a pure function: ``uniform(seed, key, sentence, counter)`` hashes its four inputs
with splitmix64, so a sentence's edits depend only on (seed, perturbation and parameters,
sentence index), never on batch size, order or the number of workers.
"""

from __future__ import annotations

import zlib

import numba
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def perturbation_key(name: str, params: str) -> np.uint64:
    """A stable 64-bit key for a perturbation and its parameters."""
    a = zlib.crc32(name.encode())
    b = zlib.crc32(params.encode())
    return np.uint64((a << 32) | b)


@numba.njit(cache=True, inline="always")
def splitmix(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def draw(seed, key, sent, counter):
    """A uint64 from (seed, key, sentence, counter)."""
    h = splitmix(np.uint64(seed) ^ splitmix(key))
    h = splitmix(h ^ np.uint64(sent))
    return splitmix(h ^ (np.uint64(counter) * np.uint64(0x9E3779B97F4A7C15)))


@numba.njit(cache=True)
def uniform(seed, key, sent, counter):
    return (draw(seed, key, sent, counter) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def randint(seed, key, sent, counter, n):
    return np.int64(draw(seed, key, sent, counter) % np.uint64(n))


@numba.njit(cache=True)
def choose_chunks(chunks, offsets, sid, eligible, group_start, group_size, item_surface, chunk_surface, p, seed,
                  key):
    """For each eligible chunk, with probability ``p``, pick a pool item of its group.

    ``group_start/size[type]`` give each type's item range; a pick whose surface equals the
    chunk's own is redrawn (up to 8 times).  Returns the chosen item per chunk or -1.
    """
    n = chunks.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    for r in range(n):
        if not eligible[r]:
            continue
        local = chunks[r, 1] - offsets[chunks[r, 0]]  # the chunk's position inside its sentence
        s = sid[chunks[r, 0]]  # the sentence's global id keys the stream
        if uniform(seed, key, s, 2 * local) >= p:
            continue
        t = chunks[r, 3]
        size = group_size[t]
        if size == 0:
            continue
        for attempt in range(8):
            item = group_start[t] + randint(seed, key, s, 2 * local + 1 + 1000003 * attempt, size)
            if item_surface[item] != chunk_surface[r] or attempt == 7:
                break
        if item_surface[item] == chunk_surface[r]:
            continue  # the pool holds nothing but this very surface
        out[r] = item
    return out


@numba.njit(cache=True)
def replace_chunks(words, tags, offsets, prev_edit, chunks, chosen, item_start, item_end, pool_words):
    """Replace chosen chunks by pool items ``pool_words[item_start[k]:item_end[k]]`` (any length),
    re-emitting B-X I-X ... tags.  Returns new words, tags, offsets and the edit mask over the new
    tokens, split in two: ``fresh`` (replaced now) and ``carried`` (``prev_edit`` of copied tokens, so
    combinations keep earlier edits)."""
    n_sent = offsets.shape[0] - 1
    extra = 0
    for r in range(chunks.shape[0]):
        if chosen[r] >= 0:
            it = chosen[r]
            extra += (item_end[it] - item_start[it]) - (chunks[r, 2] - chunks[r, 1])
    n_out = words.shape[0] + extra
    nw = np.empty(n_out, dtype=np.int32)
    nt = np.empty(n_out, dtype=np.int8)
    edit = np.zeros(n_out, dtype=np.bool_)
    carried = np.zeros(n_out, dtype=np.bool_)
    noff = np.zeros(n_sent + 1, dtype=np.int64)
    p = 0
    r = 0
    for s in range(n_sent):
        i = offsets[s]
        while i < offsets[s + 1]:
            while r < chunks.shape[0] and chunks[r, 1] < i:
                r += 1
            if r < chunks.shape[0] and chunks[r, 1] == i and chosen[r] >= 0:
                it = chosen[r]
                b_tag = 2 * chunks[r, 3] + 1
                for k in range(item_start[it], item_end[it]):
                    nw[p] = pool_words[k]
                    nt[p] = b_tag if k == item_start[it] else b_tag + 1
                    edit[p] = True
                    p += 1
                i = chunks[r, 2]
            else:
                nw[p] = words[i]
                nt[p] = tags[i]
                carried[p] = prev_edit[i]
                p += 1
                i += 1
        noff[s + 1] = p
    return nw, nt, noff, edit, carried


@numba.njit(cache=True)
def chunk_surface_ids(words, chunks, surface_hash_seed):
    """64-bit hash of each chunk's word ids (untyped)."""
    out = np.empty(chunks.shape[0], dtype=np.uint64)
    for r in range(chunks.shape[0]):
        h = np.uint64(surface_hash_seed)
        for i in range(chunks[r, 1], chunks[r, 2]):
            h = splitmix(h ^ np.uint64(words[i] + 1))
        out[r] = h
    return out


@numba.njit(cache=True)
def select_tokens(eligible, offsets, sid, p, seed, key):
    """Bernoulli(p) selection of eligible tokens, keyed by (sentence, position in sentence)."""
    out = np.zeros(eligible.shape[0], dtype=np.bool_)
    for s in range(offsets.shape[0] - 1):
        for i in range(offsets[s], offsets[s + 1]):
            if eligible[i] and uniform(seed, key, sid[s], i - offsets[s]) < p:
                out[i] = True
    return out


@numba.njit(cache=True)
def select_k_per_sentence(eligible, offsets, sid, k, seed, key):
    """Up to ``k`` eligible tokens per sentence, chosen by the smallest keyed draws."""
    out = np.zeros(eligible.shape[0], dtype=np.bool_)
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        n_el = 0
        for i in range(a, b):
            if eligible[i]:
                n_el += 1
        if n_el == 0:
            continue
        keys = np.empty(n_el, dtype=np.float64)
        pos = np.empty(n_el, dtype=np.int64)
        j = 0
        for i in range(a, b):
            if eligible[i]:
                keys[j] = uniform(seed, key, sid[s], i - a)
                pos[j] = i
                j += 1
        order = np.argsort(keys)
        for j in range(min(k, n_el)):
            out[pos[order[j]]] = True
    return out


@numba.njit(cache=True)
def pick_tokens(selected, offsets, sid, n_choices, seed, key, salt):
    """A keyed random index in [0, n_choices) for every selected token (-1 elsewhere)."""
    out = np.full(selected.shape[0], -1, dtype=np.int64)
    for s in range(offsets.shape[0] - 1):
        for i in range(offsets[s], offsets[s + 1]):
            if selected[i]:
                out[i] = randint(seed, key, sid[s], (i - offsets[s]) * 7919 + salt, n_choices)
    return out


# -- character noise over code points -----------------------------------------------------------


@numba.njit(cache=True)
def char_noise(cp, cp_off, token_word, selected, offsets, sid, kb_from, kb_to, kb_off, ops_mask, seed, key):
    """Typos on selected tokens; returns (new code points CSR per selected token, op used).

    Operations (chosen per token among those enabled in ``ops_mask``): 0 swap adjacent
    characters, 1 drop a character, 2 insert a character of the word's own script (a copy of a
    neighbour, shifted within its Unicode block), 3 replace by a keyboard neighbour (from the
    given map; falls back to a same-block neighbour).  Tokens of one character only get 2 or 3.
    """
    n_sel = 0
    need = 16
    for i in range(selected.shape[0]):
        if selected[i]:
            n_sel += 1
            need += cp_off[token_word[i] + 1] - cp_off[token_word[i]] + 1
    out_off = np.zeros(n_sel + 1, dtype=np.int64)
    out_tok = np.empty(n_sel, dtype=np.int64)
    op_used = np.empty(n_sel, dtype=np.int8)
    buf = np.empty(need, dtype=np.int32)
    q = 0
    j = 0
    for s in range(offsets.shape[0] - 1):
        for i in range(offsets[s], offsets[s + 1]):
            if not selected[i]:
                continue
            w = token_word[i]
            a = cp_off[w]
            n = cp_off[w + 1] - a
            local = i - offsets[s]
            # pick an enabled op that applies
            ops = np.empty(4, dtype=np.int64)
            m = 0
            for o in range(4):
                if ops_mask[o] and (n >= 2 or o >= 2) and n >= 1:
                    ops[m] = o
                    m += 1
            out_tok[j] = i
            if m == 0:
                for k in range(n):
                    buf[q] = cp[a + k]
                    q += 1
                op_used[j] = -1
                j += 1
                out_off[j] = q
                continue
            op = ops[randint(seed, key, sid[s], local * 4 + 1, m)]
            pos = randint(seed, key, sid[s], local * 4 + 2, n - 1 if op == 0 else n)
            op_used[j] = op
            for k in range(n):
                c = cp[a + k]
                if op == 0 and k == pos:
                    buf[q] = cp[a + k + 1]
                    q += 1
                elif op == 0 and k == pos + 1:
                    buf[q] = cp[a + k - 1]
                    q += 1
                elif op == 1 and k == pos:
                    continue
                elif op == 2 and k == pos:
                    # insert a character from the same 128-code-point block as this one
                    base = (c // 128) * 128
                    delta = randint(seed, key, sid[s], local * 4 + 3, 5) - 2
                    ins = c + delta
                    if ins < base or ins >= base + 128 or ins <= 32:
                        ins = c
                    buf[q] = ins
                    q += 1
                    buf[q] = c
                    q += 1
                elif op == 3 and k == pos:
                    # keyboard neighbour if the map has one, else a same-block neighbour
                    lo = np.searchsorted(kb_from, c)
                    if lo < kb_from.shape[0] and kb_from[lo] == c and kb_off[lo + 1] > kb_off[lo]:
                        cnt = kb_off[lo + 1] - kb_off[lo]
                        buf[q] = kb_to[kb_off[lo] + randint(seed, key, sid[s], local * 4 + 3, cnt)]
                    else:
                        base = (c // 128) * 128
                        alt = c + (1 if randint(seed, key, sid[s], local * 4 + 3, 2) == 0 else -1)
                        buf[q] = alt if (alt >= base and alt < base + 128 and alt > 32) else c
                    q += 1
                else:
                    buf[q] = c
                    q += 1
            j += 1
            out_off[j] = q
    return buf[:q].copy(), out_off, out_tok, op_used
