package astargs

import "strings"

// Split splits s into at most max fields as ast_app_separate_args does:
//
//   - ',' ends a field only outside parentheses, brackets and quotes; the
//     depths and the quote state are never reset between fields;
//   - '"' toggles quoting and is removed; '\' is removed and the byte after
//     it is copied literally;
//   - once max-1 fields are scanned, the raw rest (not unescaped, not split)
//     is field max;
//   - input ending right after a separator yields one more, empty field;
//     empty input yields no field; nothing is trimmed.
//
// s is read up to its first NUL byte, as the C string it would be. max < 1
// yields no field.
func Split(s string, max int) []string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if max < 1 || s == "" {
		return nil
	}
	var (
		fields         []string
		field          []byte
		paren, bracket int
		quote          bool
		endedBySep     bool
		i              int
	)
	for i < len(s) && len(fields) < max-1 {
		field = field[:0]
		endedBySep = false
	scan:
		for ; i < len(s); i++ {
			switch c := s[i]; c {
			case '(':
				paren++
			case ')':
				if paren > 0 {
					paren--
				}
			case '[':
				bracket++
			case ']':
				if bracket > 0 {
					bracket--
				}
			case '"':
				quote = !quote
				continue
			case '\\':
				i++
				if i < len(s) {
					field = append(field, s[i])
				}
				continue
			case ',':
				if paren == 0 && bracket == 0 && !quote {
					i++
					endedBySep = true
					break scan
				}
			}
			field = append(field, s[i])
		}
		fields = append(fields, string(field))
	}
	if i < len(s) {
		fields = append(fields, s[i:])
	} else if endedBySep {
		fields = append(fields, "")
	}
	return fields
}
