"""numba kernels of the perturbation engine: counter-based randomness and re-tagging edits.

Randomness is a pure function: ``uniform(seed, key, sentence, counter)`` hashes its four inputs
with splitmix64, so a sentence's edits depend only on (seed, perturbation and parameters,
sentence index), never on batch size, order or the number of workers.
"""

from __future__ import annotations

import zlib

import numba
import numpy as np

__all__ = ["GOLDEN", "char_noise", "choose_chunks", "draw", "perturbation_key", "pick_tokens", "randint",
           "replace_chunks", "select_k_per_sentence", "select_tokens", "shift_donors", "splitmix", "uniform",
           "uniforms"]

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
def uniforms(seed, key, units, counter):
    """``uniform(seed, key, unit, counter)`` for every unit id."""
    out = np.empty(units.shape[0], dtype=np.float64)
    for i in range(units.shape[0]):
        out[i] = uniform(seed, key, units[i], counter)
    return out


def shift_donors(groupings: list[np.ndarray], units: np.ndarray, seed: int, key) -> np.ndarray:
    """A donor per unit (-1: none): the next unit of its group in an order keyed by (seed, key, unit id),
    cyclically, so no unit is its own donor and each donates once.  Units alone in their group under
    one grouping (rows of a 2-d array) are grouped again by the next one."""
    n = units.shape[0]
    donor = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return donor
    keys = uniforms(seed, key, units.astype(np.int64), 99991)
    for grouping in groupings:
        free = np.flatnonzero(donor < 0)
        if free.size < 2:
            break
        gid = np.unique(grouping[free], axis=0, return_inverse=True)[1].ravel()
        order = np.lexsort((units[free], keys[free], gid))
        idx, g = free[order], gid[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        ends = np.r_[starts[1:], idx.size]
        nxt = np.arange(1, idx.size + 1)
        nxt[ends - 1] = starts  # the last of a group takes the first
        ok = np.repeat(ends - starts >= 2, ends - starts)
        donor[idx[ok]] = idx[nxt[ok]]
    return donor


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


# -- character noise over code points (tables: perturbations/char.py) ------------------------------


@numba.njit(cache=True, inline="always")
def _find(table, c):
    """Index of ``c`` in a sorted table, or -1."""
    lo = np.searchsorted(table, c)
    return lo if lo < table.shape[0] and table[lo] == c else -1


@numba.njit(cache=True)
def _anchors(flags, a, n, want, r):
    """Characters ``a..a+n`` whose ``flags`` have bit ``want`` (1: may anchor an insert, 2: a
    substitution): their count if ``r < 0``, else the r-th one's offset."""
    for k in range(n):
        if flags[a + k] & want:
            if r == 0:
                return k
            r -= 1
    return -r - 1


@numba.njit(cache=True)
def char_noise(cp, cp_off, token_word, selected, offsets, sid, kb_from, kb_to, kb_off, nb_from, nb_to, nb_off,
               ops_mask, seed, key):
    """Typos on selected tokens; returns (new code points CSR per selected token, op used).

    Operations (chosen per token among those enabled in ``ops_mask`` that apply): 0 swap adjacent
    characters, 1 drop a character, 2 insert, before a letter, a copy of it or one of its nearest
    same-script letters/marks (``nb_*``: a CSR over sorted code points), 3 replace a letter by a
    keyboard neighbour (``kb_*``) or else a nearest same-script letter.  Inserted and substituted
    characters are thus always letters or marks of the anchor's script, never separators, controls
    or format characters; tokens of one character only get 2 or 3.
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
    ops = np.empty(4, dtype=np.int64)
    # per code point: its row in the neighbour and keyboard tables, and what it can anchor
    nb_row = np.empty(cp.shape[0], dtype=np.int64)
    kb_row = np.empty(cp.shape[0], dtype=np.int64)
    flags = np.zeros(cp.shape[0], dtype=np.int8)
    for k in range(cp.shape[0]):
        nb_row[k] = _find(nb_from, cp[k])
        kb_row[k] = _find(kb_from, cp[k])
        has_nb = nb_row[k] >= 0 and nb_off[nb_row[k] + 1] > nb_off[nb_row[k]]
        has_kb = kb_row[k] >= 0 and kb_off[kb_row[k] + 1] > kb_off[kb_row[k]]
        flags[k] = (1 if nb_row[k] >= 0 else 0) | (2 if has_nb or has_kb else 0)
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
            n_ins = _anchors(flags, a, n, 1, -1)
            n_sub = _anchors(flags, a, n, 2, -1)
            m = 0
            for o in range(4):
                if ops_mask[o] and ((o < 2 and n >= 2) or (o == 2 and n_ins > 0) or (o == 3 and n_sub > 0)):
                    ops[m] = o
                    m += 1
            out_tok[j] = i
            op = ops[randint(seed, key, sid[s], local * 4 + 1, m)] if m else -1
            op_used[j] = op
            if op == 0 or op == 1:
                pos = randint(seed, key, sid[s], local * 4 + 2, n - 1 if op == 0 else n)
            elif op == 2:
                pos = _anchors(flags, a, n, 1, randint(seed, key, sid[s], local * 4 + 2, n_ins))
            elif op == 3:
                pos = _anchors(flags, a, n, 2, randint(seed, key, sid[s], local * 4 + 2, n_sub))
            else:
                pos = -1
            for k in range(n):
                c = cp[a + k]
                if k != pos:
                    if not (op == 0 and k == pos + 1):
                        buf[q] = c
                        q += 1
                    continue
                if op == 0:  # swap with the next character
                    buf[q] = cp[a + k + 1]
                    buf[q + 1] = c
                    q += 2
                elif op == 2:  # a copy of the anchor or one of its nearest same-script letters, then the anchor
                    nb = nb_row[a + k]
                    cnt = nb_off[nb + 1] - nb_off[nb]
                    r = randint(seed, key, sid[s], local * 4 + 3, cnt + 1)
                    buf[q] = c if r == cnt else nb_to[nb_off[nb] + r]
                    buf[q + 1] = c
                    q += 2
                elif op == 3:  # a keyboard neighbour if the map has one, else one of the two nearest letters
                    kb = kb_row[a + k]
                    if kb >= 0 and kb_off[kb + 1] > kb_off[kb]:
                        cnt = kb_off[kb + 1] - kb_off[kb]
                        buf[q] = kb_to[kb_off[kb] + randint(seed, key, sid[s], local * 4 + 3, cnt)]
                    else:
                        nb = nb_row[a + k]
                        cnt = min(2, nb_off[nb + 1] - nb_off[nb])
                        buf[q] = nb_to[nb_off[nb] + randint(seed, key, sid[s], local * 4 + 3, cnt)]
                    q += 1
                # op 1: the character at pos is dropped
            j += 1
            out_off[j] = q
    return buf[:q].copy(), out_off, out_tok, op_used
