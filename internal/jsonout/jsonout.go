// Package jsonout writes JSON by hand for the few values encoded on every
// payment (the wallet's payment doc, the payment the API answers with),
// where encoding/json's reflection was one of the costliest steps. A
// writer built on it writes the bytes json.Marshal writes for its type,
// field by field: the same order, the same omitempty rules, and for any
// string that is not plain printable ASCII, for times and for anything
// else unusual, encoding/json itself. Each has a test holding it to
// json.Marshal on generated values.
package jsonout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/agentpay/agentpay/protocol"
)

// Writer is an encoding in progress. OK turns false when a value needs
// json.Marshal's error (a time out of range); the caller then asks
// json.Marshal.
type Writer struct {
	B     []byte
	OK    bool
	first bool // the object being written has no member yet
}

// New returns a Writer appending to b.
func New(b []byte) *Writer { return &Writer{B: b, OK: true} }

// Str appends s as encoding/json does: plain printable ASCII as it is,
// anything with a byte to escape (quotes, backslashes, <, >, &, control
// characters, non-ASCII) through json.Marshal.
func (w *Writer) Str(s string) {
	i := plainBlocks(s)
	for ; i < len(s); i++ {
		if !plain[s[i]] {
			q, err := json.Marshal(s)
			w.OK = w.OK && err == nil
			w.B = append(w.B, q...)
			return
		}
	}
	w.B = append(w.B, '"')
	w.B = append(w.B, s...)
	w.B = append(w.B, '"')
}

// plainBlocks returns the length of s's longest prefix of whole 8-byte
// blocks that surely need no escaping, read a block at a time. It is
// exact for bytes below 0x80 and stops at any other (which Str looks at
// byte by byte).
func plainBlocks(s string) int {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// (v - ones) &^ v has the high bit of v's zero bytes set: v is x
		// with the bytes to find made zero; x - ones*0x20 finds those
		// below 0x20 the same way.
		q, b, lt, gt, amp, del := x^ones*'"', x^ones*'\\', x^ones*'<', x^ones*'>', x^ones*'&', x^ones*0x7f
		if (x|(x-ones*0x20)&^x|(q-ones)&^q|(b-ones)&^b|(lt-ones)&^lt|(gt-ones)&^gt|
			(amp-ones)&^amp|(del-ones)&^del)&high != 0 {
			break
		}
	}
	return i
}

// plain marks the bytes encoding/json writes as they are: printable
// ASCII but quotes, backslashes, <, > and &.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// Open starts an object.
func (w *Writer) Open() { w.B, w.first = append(w.B, '{'), true }

// Close ends an object.
func (w *Writer) Close() { w.B, w.first = append(w.B, '}'), false }

// Key appends a member name (plain ASCII, a constant) and its colon,
// after a comma unless it is the object's first.
func (w *Writer) Key(name string) {
	if !w.first {
		w.B = append(w.B, ',')
	}
	w.first = false
	w.B = append(w.B, '"')
	w.B = append(w.B, name...)
	w.B = append(w.B, '"', ':')
}

// KStr appends the member name with the string v.
func (w *Writer) KStr(name, v string) { w.Key(name); w.Str(v) }

// KInt appends the member name with the integer n.
func (w *Writer) KInt(name string, n int64) {
	w.Key(name)
	w.B = strconv.AppendInt(w.B, n, 10)
}

// KBool appends the member name with v.
func (w *Writer) KBool(name string, v bool) {
	w.Key(name)
	w.B = strconv.AppendBool(w.B, v)
}

// KTime appends the member name with t as time.Time encodes itself.
func (w *Writer) KTime(name string, t time.Time) {
	w.Key(name)
	// MarshalJSON's bytes (the quoted strict RFC 3339 text), appended in
	// place rather than allocated.
	b, err := t.AppendText(append(w.B, '"'))
	if err != nil {
		w.OK = false
		return
	}
	w.B = append(b, '"')
}

// Array appends n elements, written by elem, as a JSON array (null when
// nilSlice).
func (w *Writer) Array(n int, nilSlice bool, elem func(i int)) {
	if nilSlice {
		w.B = append(w.B, "null"...)
		return
	}
	w.B = append(w.B, '[')
	for i := range n {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		elem(i)
	}
	w.B = append(w.B, ']')
	w.first = false
}

// Strs appends a []string.
func (w *Writer) Strs(ss []string) {
	w.Array(len(ss), ss == nil, func(i int) { w.Str(ss[i]) })
}

// Limits appends a []protocol.Limit.
func (w *Writer) Limits(ls []protocol.Limit) {
	w.Array(len(ls), ls == nil, func(i int) {
		l := &ls[i]
		w.Open()
		w.KStr("name", l.Name)
		w.KStr("unit", l.Unit)
		w.KInt("scale", int64(l.Scale))
		w.KInt("max", l.Max)
		w.KInt("used", l.Used)
		w.KInt("requested", l.Requested)
		w.KInt("remaining", l.Remaining)
		w.Close()
	})
}

// Decision appends a protocol.Decision.
func (w *Writer) Decision(d *protocol.Decision) {
	w.Open()
	w.KStr("outcome", string(d.Outcome))
	if d.Code != "" {
		w.KStr("code", string(d.Code))
	}
	w.Key("checks")
	w.Array(len(d.Checks), d.Checks == nil, func(i int) {
		c := &d.Checks[i]
		w.Open()
		if c.Mandate != "" {
			w.KStr("mandate", c.Mandate)
		}
		w.KInt("index", int64(c.Index))
		w.KStr("type", c.Type)
		w.KStr("result", string(c.Result))
		if c.Code != "" {
			w.KStr("code", string(c.Code))
		}
		w.KStr("detail", c.Detail)
		if len(c.Limits) > 0 {
			w.Key("limits")
			w.Limits(c.Limits)
		}
		w.Close()
	})
	w.Close()
}

// PaymentHead appends the members both a wallet payment's doc and the
// API's payment start with, in their order: id, mandate, agent, owner,
// wallet, payee, amount, currency, scale, status.
func (w *Writer) PaymentHead(id, mandate, agent, owner, wallet, payee string, amount int64, currency string, scale uint8, status string) {
	w.KStr("id", id)
	w.KStr("mandate", mandate)
	w.KStr("agent", agent)
	w.KStr("owner", owner)
	w.KStr("wallet", wallet)
	w.KStr("payee", payee)
	w.KInt("amount", amount)
	w.KStr("currency", currency)
	w.KInt("scale", int64(scale))
	w.KStr("status", status)
}

// Fields returns the JSON member names of typ's exported fields, in
// order: what a writer's test compares with the members it writes.
func Fields(typ reflect.Type) []string {
	var names []string
	for f := range typ.Fields() {
		if f.IsExported() {
			names = append(names, strings.Split(f.Tag.Get("json"), ",")[0])
		}
	}
	return names
}

// Check compares a writer's result (got, ok) with json.Marshal's (want,
// err) for a writer's test: nil when they agree (ok exactly when
// json.Marshal succeeds, the same bytes then).
func Check(got []byte, ok bool, want []byte, err error) error {
	switch {
	case err != nil && ok:
		return fmt.Errorf("json.Marshal fails (%v), the writer did not", err)
	case err == nil && !ok:
		return fmt.Errorf("the writer gave up on what json.Marshal encodes: %s", want)
	case err == nil && !bytes.Equal(got, want):
		return fmt.Errorf("the writer:\n%s\njson.Marshal:\n%s", got, want)
	}
	return nil
}
