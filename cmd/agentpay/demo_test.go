package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs `agentpay demo` against its in-process server and checks
// the story's facts: the overdraft is refused, the retry pays once, the
// failed chain moves nothing, and the final balances add up.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"demo"})
	if err := root.Execute(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"3 accepted, 0 rejected",
		"refused with 422 exceeds_credits",
		"transfer 0: linked_event_failed",
		"transfer 1: exceeds_credits",
		"bank:      credits $0.00    debits $20.00",
		"wallet:    credits $20.00   debits $4.44",
		"merchant:  credits $4.44    debits $0.00",
		"The wallet's history holds 7 transfers",
		"and the checkpoint's signature verifies with the log's published key.",
		"The batch response carried a receipt signed by the log: log entry 3 holds the 3 calls,",
		"its leaf, the batch's tree, the log's tree and the signature all check out.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`first answer (tr_\S+), retry answer (tr_\S+):`).FindStringSubmatch(text)
	if m == nil || m[1] != m[2] {
		t.Errorf("retry did not return the original transfer: %v", m)
	}
	if t.Failed() {
		t.Log(text)
	}
}
