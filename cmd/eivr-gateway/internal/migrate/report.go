package migrate

import (
	"fmt"
	"io"
)

// WriteReport writes what `eivr-gateway migrate` prints on standard output:
// the diff, the config.toml stanza and the STASISSTATUS checks.
func (r *Result) WriteReport(w io.Writer) error {
	if len(r.Rewrites) == 0 {
		_, err := fmt.Fprintln(w, "# no ExternalIVR() call to convert")
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n# config.toml: the [[app]] allowing exactly the programs and hosts above\n%s\n"+
		"# Stasis() lets the dialplan continue when the gateway is not connected\n"+
		"# (STASISSTATUS=FAILED), where ExternalIVR() would have hung up. Add:\n%s",
		r.Diff(), r.Stanza(), r.StatusChecks())
	return err
}

// WriteProblems writes one FILE:LINE: reason line per problem.
func (r *Result) WriteProblems(w io.Writer) error {
	for _, p := range r.Problems {
		if _, err := fmt.Fprintln(w, p.String()); err != nil {
			return err
		}
	}
	return nil
}
