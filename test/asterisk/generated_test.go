package asterisk

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// genScenario draws a random valid command sequence in which every step
// waits for an event it caused (a reply, an F/Z/T, a digit's line, EOF), so
// the two sides' transcripts cannot differ by timing.
func genScenario(l *Lane) *rapid.Generator[*scenario] {
	return rapid.Custom(func(t *rapid.T) *scenario {
		sc := &scenario{tcp: rapid.Bool().Draw(t, "tcp")}
		var st []step
		autoclear := false
		vars := map[string]bool{}
		n := rapid.IntRange(2, 8).Draw(t, "ops")
		for range n {
			switch rapid.IntRange(0, 8).Draw(t, "op") {
			case 0: // a short file, played out
				f := rapid.SampledFrom([]string{"beep", "digits/1", "digits/2", l.sounds + "/en/beep"}).Draw(t, "file")
				st = append(st, sendStep(rapid.SampledFrom([]string{"S,", "A,"}).Draw(t, "cmd")+f), awaitStep('F'))
			case 1: // a missing file
				st = append(st, sendStep("A,no-such-"+strconv.Itoa(rapid.IntRange(0, 9).Draw(t, "n"))), awaitStep('Z'))
			case 2:
				st = append(st, syncP()...)
			case 3: // V then G of the same name
				name := rapid.SampledFrom([]string{"a", "B_2", "CHOICE", "x y"}).Draw(t, "name")
				val := rapid.StringOfN(rapid.RuneFrom([]rune("az09 =.-é")), 0, 8, -1).Draw(t, "value")
				vars[name] = true
				st = append(st, sendStep("V,"+name+"="+val), sendStep("G,"+name), awaitStep('G'))
			case 4:
				st = append(st, sendStep("G,"+rapid.SampledFrom([]string{"PRESET", "PRESET,NOSUCH", "a,,b"}).Draw(t, "get")), awaitStep('G'))
			case 5: // a digit while idle
				st = append(st, dtmf(rapid.SampledFrom([]string{"0", "5", "*", "#", "A"}).Draw(t, "digit")))
			case 6:
				autoclear = rapid.Bool().Draw(t, "autoclear")
				o := "O,noautoclear"
				if autoclear {
					o = "O,autoclear"
				}
				st = append(st, sendStep(o))
				st = append(st, syncP()...)
			case 7: // interrupt a long file
				if autoclear {
					st = append(st, sendStep("S,demo-congrats"), sendStep("A,beep"))
					st = append(st, syncP()...)
					st = append(st, dtmf("1"), awaitStep('T'), awaitStep('D'))
				} else {
					st = append(st, playing("S,demo-congrats")...)
					// I, not S: a file S left playing would race the next
					// command (native reports a file the generator has not
					// picked up yet, within its 20 ms tick, as D, not T).
					st = append(st, sendStep("I,x"), awaitStep('T'))
					st = append(st, syncP()...)
				}
			case 8:
				st = append(st, sendStep("L,log "+strconv.Itoa(rapid.IntRange(0, 99).Draw(t, "log"))))
			}
		}
		switch rapid.IntRange(0, 3).Draw(t, "end") {
		case 0:
			st = append(st, sendStep("E,x"), awaitStep('E'), eofStep{})
		case 1:
			st = append(st, sendStep("H,x"), awaitStep('H'), eofStep{})
		case 2:
			st = append(st, closeStep{})
		case 3:
			st = append(st, hangupStep{}, awaitStep('H'), eofStep{})
		}
		sc.steps = st
		for v := range vars {
			sc.setVars = append(sc.setVars, v)
		}
		return sc
	})
}

// TestGenerated runs random sequences (EIVR_LANE_CASES, default 6 under
// -short and 20 without; seeds from EIVR_LANE_SEED, default 1) natively and through the gateway. A
// failing case is printed as a replayable script; its seed reruns it.
func TestGenerated(t *testing.T) {
	l := need(t)
	cases, seed := 20, 1
	if testing.Short() {
		cases = 6
	}
	if v, err := strconv.Atoi(os.Getenv(envCases)); err == nil && v > 0 {
		cases = v
	}
	if v, err := strconv.Atoi(os.Getenv(envSeed)); err == nil {
		seed = v
	}
	gen := genScenario(l)
	scs := make([]*scenario, cases)
	for i := range scs {
		scs[i] = gen.Example(seed + i)
		scs[i].name = fmt.Sprintf("seed-%d", seed+i)
		scs[i].rerun = fmt.Sprintf("%s=%d %s=1 go test -run 'TestGenerated$' ./test/asterisk", envSeed, seed+i, envCases)
	}
	concurrently(t, scs, func(t *testing.T, sc *scenario) { differential(t, l, sc) })
}
