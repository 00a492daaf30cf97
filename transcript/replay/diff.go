package replay

import (
	"fmt"
	"io"
)

// DiffLine is one line of a diff: Op ' ' (both), '-' (recorded only) or
// '+' (replayed only).
type DiffLine struct {
	Op   byte
	Text string
}

// maxLCS bounds the table of the longest-common-subsequence diff; longer
// inputs are compared line by line.
const maxLCS = 4 << 20

// Diff is the line diff of a (recorded) and b (replayed).
func Diff(a, b []string) []DiffLine {
	// common prefix and suffix first
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	sa, sb := len(a), len(b)
	for sa > p && sb > p && a[sa-1] == b[sb-1] {
		sa--
		sb--
	}
	var out []DiffLine
	for _, l := range a[:p] {
		out = append(out, DiffLine{' ', l})
	}
	out = append(out, middle(a[p:sa], b[p:sb])...)
	for _, l := range a[sa:] {
		out = append(out, DiffLine{' ', l})
	}
	return out
}

func middle(a, b []string) []DiffLine {
	var out []DiffLine
	if len(a)*len(b) > maxLCS {
		for _, l := range a {
			out = append(out, DiffLine{'-', l})
		}
		for _, l := range b {
			out = append(out, DiffLine{'+', l})
		}
		return out
	}
	n, m := len(a), len(b)
	// lcs[i][j]: the LCS length of a[i:] and b[j:]
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, DiffLine{' ', a[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, DiffLine{'-', a[i]})
			i++
		default:
			out = append(out, DiffLine{'+', b[j]})
			j++
		}
	}
	return out
}

// WriteDiff prints the diff, unified style: "--- recorded", "+++ replayed",
// then every line with its op; only the changed lines and context lines
// around them when context >= 0 (all lines when < 0).
func (r Result) WriteDiff(w io.Writer, name string, context int) {
	fmt.Fprintf(w, "--- recorded %s\n+++ replayed\n", name)
	show := make([]bool, len(r.Diff))
	for i, d := range r.Diff {
		if d.Op == ' ' && context >= 0 {
			continue
		}
		for k := max(0, i-max(context, 0)); k <= min(len(r.Diff)-1, i+max(context, 0)); k++ {
			show[k] = true
		}
	}
	skipped := false
	for i, d := range r.Diff {
		if !show[i] {
			skipped = true
			continue
		}
		if skipped {
			fmt.Fprintln(w, "@@")
			skipped = false
		}
		fmt.Fprintf(w, "%c %s\n", d.Op, d.Text)
	}
}
