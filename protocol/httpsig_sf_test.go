package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestSFDictionary(t *testing.T) {
	// in, and its canonical serialization ("" = same as in).
	valid := []struct{ in, out string }{
		{`en="Applepie", da=:w4ZibGV0w6ZydGU=:`, ""},               // RFC 8941 §3.2
		{`a=?0, b, c; foo=bar`, `a=?0, b, c;foo=bar`},              // §3.2
		{`rating=1.5, feelings=(joy sadness)`, ""},                 // §3.2
		{`a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid`, ""},             // §3.2
		{`sig1=("@method" "@target-uri");created=1;keyid="k"`, ""}, // RFC 9421 shape
		{`x=(  "a"   "b" )`, `x=("a" "b")`},
		{`x=()`, ""},
		{`x=-42, y=0, z=999999999999999`, ""},
		{`x=1.000, y=-0.5, z=123456789012.123`, `x=1.0, y=-0.5, z=123456789012.123`},
		{`x="a\"b\\c"`, ""},
		{`x=foo/bar:baz*, y=*tok`, ""},
		{`x=:YQ:`, `x=:YQ==:`},
		{"x=1 ,\ty=2", `x=1, y=2`},
		{`   `, ""},
		{`*k_-.9=1`, ""},
	}
	for _, tc := range valid {
		m, err := sfParseDictionary(tc.in)
		if err != nil {
			t.Errorf("parse %q: %v", tc.in, err)
			continue
		}
		want := tc.out
		if want == "" {
			want = tc.in
			if strings.TrimSpace(tc.in) == "" {
				want = ""
			}
		}
		got, err := sfSerializeDictionary(m)
		if err != nil || got != want {
			t.Errorf("serialize(parse(%q)) = %q, %v; want %q", tc.in, got, err, want)
		}
	}
	invalid := []string{
		`A=1`, `1a=1`, `a=`, `a=1,`, `a=1,,b=2`, `a=1 b=2`, `a=(1`, `a=(1)(2)`, `a=(1,2)`,
		`a="unterminated`, `a="bad\escape"`, "a=\"tab\there\"", `a=?2`, `a=?`, `a=:abc`,
		`a=:a=b=:`, `a=:ab===:`, `a=:a+/*:`, `a=1.`, `a=.5`, `a=-`, `a=1.2345`, `a=1234567890123.4`,
		`a=1234567890123456`, `a=@1659578233`, `a=%"x"`, `a=1;`, `a=1;B=2`, `a=1;b=2;b=3`, `a=1, a=2`,
		"a=\x01", "a=\"é\"", `a=("x";)`, `a=#`,
	}
	for _, in := range invalid {
		if m, err := sfParseDictionary(in); err == nil {
			t.Errorf("parse %q succeeded: %+v", in, m)
		} else if !errors.Is(err, errSF) {
			t.Errorf("parse %q: error %v does not wrap errSF", in, err)
		}
	}
}

func TestSFLimits(t *testing.T) {
	many := ""
	for i := 0; i < sfMembersMax+1; i++ {
		if i > 0 {
			many += ", "
		}
		many += "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
	}
	if _, err := sfParseDictionary(many); err == nil {
		t.Error("more than sfMembersMax members accepted")
	}
	items := "a=(" + strings.TrimSpace(strings.Repeat("1 ", sfInnerListItemsMax+1)) + ")"
	if _, err := sfParseDictionary(items); err == nil {
		t.Error("more than sfInnerListItemsMax items accepted")
	}
	params := "a=1"
	for i := 0; i < sfParamsMax+1; i++ {
		params += ";p" + string(rune('a'+i))
	}
	if _, err := sfParseDictionary(params); err == nil {
		t.Error("more than sfParamsMax parameters accepted")
	}
}

func TestSFSerializeRejects(t *testing.T) {
	for _, v := range []sfBare{
		{Kind: sfInteger, Integer: 1_000_000_000_000_000},
		{Kind: sfString, Str: "a\nb"},
		{Kind: sfToken, Str: ""},
		{Kind: sfToken, Str: "1abc"},
		{Kind: sfToken, Str: "a b"},
		{Kind: 0},
	} {
		var b strings.Builder
		if err := sfWriteBare(&b, v); err == nil {
			t.Errorf("sfWriteBare(%+v) = %q, want an error", v, b.String())
		}
	}
	for _, k := range []string{"", "A", "1a", "a b"} {
		if err := sfWriteKey(&strings.Builder{}, k); err == nil {
			t.Errorf("sfWriteKey(%q) accepted", k)
		}
	}
}
