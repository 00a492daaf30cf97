package asterisk

// MaskTimestamps returns a copy of an ExternalIVR transcript with the
// timestamp field of every event line replaced by "TTTTTTTTTT". An event line
// is `<tag>,<timestamp>[,<data>]\n` with the timestamp printed `%10d`: the
// ten bytes after the first comma are masked when they are digits, spaces
// or a minus sign and are followed by a comma, a newline or the end of the
// transcript. Nothing else changes, so two masked transcripts are equal
// exactly when the scripts read the same bytes apart from the clock.
func MaskTimestamps(transcript []byte) []byte {
	out := make([]byte, 0, len(transcript))
	for len(transcript) > 0 {
		line := transcript
		rest := []byte(nil)
		for i, b := range transcript {
			if b == '\n' {
				line, rest = transcript[:i+1], transcript[i+1:]
				break
			}
		}
		out = append(out, maskLine(line)...)
		transcript = rest
	}
	return out
}

const tsWidth = 10

func maskLine(line []byte) []byte {
	if len(line) < 2+tsWidth || line[1] != ',' {
		return line
	}
	ts := line[2 : 2+tsWidth]
	for _, b := range ts {
		if (b < '0' || b > '9') && b != ' ' && b != '-' {
			return line
		}
	}
	if ts[tsWidth-1] < '0' || ts[tsWidth-1] > '9' {
		return line
	}
	if len(line) > 2+tsWidth && line[2+tsWidth] != ',' && line[2+tsWidth] != '\n' {
		return line
	}
	m := make([]byte, 0, len(line))
	m = append(m, line[:2]...)
	m = append(m, "TTTTTTTTTT"...)
	return append(m, line[2+tsWidth:]...)
}
