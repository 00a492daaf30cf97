package eivr_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

func ExampleParseStasisArgs() {
	// Stasis(eivr,/usr/bin/foo(a,b),n) arrives as StasisStart.args:
	app, err := eivr.ParseStasisArgs([]string{"/usr/bin/foo(a,b)", "n"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q noanswer=%v P=%s\n", app.Argv, app.Options.NoAnswer, app.PReply())
	// Output: ["/usr/bin/foo" "a" "b"] noanswer=true P=/usr/bin/foo,a,b
}

func ExampleReader() {
	script := "S,beep\n   S,ignored\nV,a=1,b=2\nQ,unknown\nE,bye"
	r := eivr.NewReader(strings.NewReader(script))
	for {
		cmd, err := r.Next()
		if err != nil {
			break // io.EOF: the script closed its stdout
		}
		switch {
		case !cmd.Known():
			fmt.Printf("ignored unknown command %q\n", cmd.String())
		case cmd.Letter == eivr.CmdSetVars:
			for v, err := range eivr.SetVars(cmd.Param) {
				if err == nil {
					fmt.Printf("set %s=%s\n", v.Name, v.Value)
				}
			}
		default:
			fmt.Printf("%c %q\n", cmd.Letter, cmd.Param)
		}
	}
	// Output:
	// S "beep"
	// set a=1
	// set b=2
	// ignored unknown command "Q,unknown"
	// E "bye"
}

func ExampleAppendEvent() {
	buf := make([]byte, 0, 64)
	ts := time.Unix(1795457122, 0)
	buf = eivr.AppendEvent(buf, eivr.TagFinished, ts, "beep")
	buf = eivr.AppendEvent(buf, '5', ts, "") // DTMF digit 5
	var g eivr.GetReply
	g.Add("a", "1")
	g.Add("CALLERID(num)", "") // G does not evaluate functions
	buf = eivr.AppendEvent(buf, eivr.TagVars, ts, g.String())
	fmt.Print(string(buf))
	// Output:
	// F,1795457122,beep
	// 5,1795457122
	// G,1795457122,a=1,CALLERID(num)=
}
