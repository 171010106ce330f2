package protocol

// A strict, bounded parser and serializer for the parts of RFC 8941
// (Structured Field Values for HTTP) that RFC 9421 and RFC 9530 use:
// Dictionaries whose members are Items or Inner Lists, with Parameters, over
// the bare item types Integer, Decimal, String, Token, Byte Sequence and
// Boolean. The RFC 9651 additions (Date, Display String) are rejected.
//
// It departs from RFC 8941 in one way, on purpose: a repeated dictionary key
// or parameter key is an error rather than "the last one wins", so that two
// implementations can never read the same header differently.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits of the Structured Field parser. Each bounds the work one header can
// cause.
const (
	// sfMembersMax bounds the members of one Dictionary.
	sfMembersMax = 16
	// sfInnerListItemsMax bounds the items of one Inner List.
	sfInnerListItemsMax = 32
	// sfParamsMax bounds the parameters attached to one item or inner list.
	sfParamsMax = 16
)

// sfKind is the type of a bare item.
type sfKind uint8

const (
	sfInteger sfKind = iota + 1
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfBoolean
)

func (k sfKind) String() string {
	switch k {
	case sfInteger:
		return "integer"
	case sfDecimal:
		return "decimal"
	case sfString:
		return "string"
	case sfToken:
		return "token"
	case sfBytes:
		return "byte sequence"
	case sfBoolean:
		return "boolean"
	}
	return "unknown"
}

// sfBare is a bare item. Integer holds an Integer, a Decimal in thousandths
// (RFC 8941 decimals have at most three fractional digits, so this is exact),
// or a Boolean as 0 or 1. Str holds a String or Token; Bytes a Byte Sequence.
type sfBare struct {
	Kind    sfKind
	Integer int64
	Str     string
	Bytes   []byte
}

// sfParam is one parameter: a key and a bare item.
type sfParam struct {
	Key   string
	Value sfBare
}

// sfItem is a bare item with its parameters.
type sfItem struct {
	Bare   sfBare
	Params []sfParam
}

// sfMember is one Dictionary member: an Item, or an Inner List (IsInner)
// whose items are in Inner and whose own parameters are in Params.
type sfMember struct {
	Key     string
	IsInner bool
	Item    sfItem
	Inner   []sfItem
	Params  []sfParam
}

// param returns the parameter named key and whether it is present.
func sfParamLookup(params []sfParam, key string) (sfBare, bool) {
	for _, p := range params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return sfBare{}, false
}

// errSF is wrapped by every parse failure; callers wrap it again in their
// own sentinel.
var errSF = errors.New("structured field")

type sfParser struct {
	s   string
	pos int
}

func (p *sfParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", errSF, p.pos, fmt.Sprintf(format, args...))
}

func (p *sfParser) eof() bool { return p.pos >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// sfParseDictionary parses s as an RFC 8941 Dictionary (§4.2.2). The caller
// bounds len(s) beforehand. An empty (or all-space) field is an empty
// dictionary.
func sfParseDictionary(s string) ([]sfMember, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c > 0x7e || (c < 0x20 && c != '\t') {
			return nil, fmt.Errorf("%w: byte 0x%02x at offset %d is not visible ASCII", errSF, c, i)
		}
	}
	p := &sfParser{s: s}
	p.skipSP()
	// Trailing SP is discarded too (RFC 8941 §4.2 step 2).
	p.s = strings.TrimRight(p.s, " ")
	var members []sfMember
	for !p.eof() {
		if len(members) == sfMembersMax {
			return nil, p.fail("more than %d dictionary members", sfMembersMax)
		}
		key, err := p.parseKey()
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if m.Key == key {
				return nil, p.fail("dictionary key %q repeated", key)
			}
		}
		m := sfMember{Key: key}
		if p.peek() == '=' {
			p.pos++
			if p.peek() == '(' {
				m.IsInner = true
				if m.Inner, m.Params, err = p.parseInnerList(); err != nil {
					return nil, err
				}
			} else if m.Item, err = p.parseItem(); err != nil {
				return nil, err
			}
		} else {
			m.Item.Bare = sfBare{Kind: sfBoolean, Integer: 1}
			if m.Item.Params, err = p.parseParams(); err != nil {
				return nil, err
			}
		}
		members = append(members, m)
		p.skipOWS()
		if p.eof() {
			return members, nil
		}
		if p.peek() != ',' {
			return nil, p.fail("expected ',' after dictionary member, got %q", p.peek())
		}
		p.pos++
		p.skipOWS()
		if p.eof() {
			return nil, p.fail("trailing ',' in dictionary")
		}
	}
	return members, nil
}

// parseInnerList parses "(" item *( SP item ) ")" parameters (§4.2.1.2).
func (p *sfParser) parseInnerList() ([]sfItem, []sfParam, error) {
	if p.peek() != '(' {
		return nil, nil, p.fail("expected '('")
	}
	p.pos++
	items := make([]sfItem, 0, 8)
	for !p.eof() {
		p.skipSP()
		if p.peek() == ')' {
			p.pos++
			params, err := p.parseParams()
			if err != nil {
				return nil, nil, err
			}
			return items, params, nil
		}
		if len(items) == sfInnerListItemsMax {
			return nil, nil, p.fail("more than %d inner list items", sfInnerListItemsMax)
		}
		it, err := p.parseItem()
		if err != nil {
			return nil, nil, err
		}
		items = append(items, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, nil, p.fail("expected SP or ')' in inner list, got %q", c)
		}
	}
	return nil, nil, p.fail("inner list not closed")
}

func (p *sfParser) parseItem() (sfItem, error) {
	bare, err := p.parseBare()
	if err != nil {
		return sfItem{}, err
	}
	params, err := p.parseParams()
	if err != nil {
		return sfItem{}, err
	}
	return sfItem{Bare: bare, Params: params}, nil
}

// parseParams parses *( ";" *SP key [ "=" bare-item ] ) (§4.2.3.2).
func (p *sfParser) parseParams() ([]sfParam, error) {
	var params []sfParam
	for p.peek() == ';' {
		if params == nil {
			params = make([]sfParam, 0, 8)
		}
		p.pos++
		p.skipSP()
		if len(params) == sfParamsMax {
			return nil, p.fail("more than %d parameters", sfParamsMax)
		}
		key, err := p.parseKey()
		if err != nil {
			return nil, err
		}
		for _, q := range params {
			if q.Key == key {
				return nil, p.fail("parameter %q repeated", key)
			}
		}
		v := sfBare{Kind: sfBoolean, Integer: 1}
		if p.peek() == '=' {
			p.pos++
			if v, err = p.parseBare(); err != nil {
				return nil, err
			}
		}
		params = append(params, sfParam{Key: key, Value: v})
	}
	return params, nil
}

// parseKey parses ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ).
func (p *sfParser) parseKey() (string, error) {
	start := p.pos
	if c := p.peek(); !(c >= 'a' && c <= 'z') && c != '*' {
		return "", p.fail("key must start with a lowercase letter or '*', got %q", c)
	}
	p.pos++
	for !p.eof() {
		c := p.s[p.pos]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '*' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos], nil
}

func (p *sfParser) parseBare() (sfBare, error) {
	c := p.peek()
	switch {
	case c == '-' || (c >= '0' && c <= '9'):
		return p.parseNumber()
	case c == '"':
		return p.parseString()
	case c == '*' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		return p.parseToken()
	case c == ':':
		return p.parseBytes()
	case c == '?':
		return p.parseBoolean()
	}
	if p.eof() {
		return sfBare{}, p.fail("expected an item, got end of field")
	}
	return sfBare{}, p.fail("unexpected %q at start of an item", c)
}

// parseNumber follows §4.2.4: at most 15 integer digits; a decimal has at
// most 12 integer and 1 to 3 fractional digits.
func (p *sfParser) parseNumber() (sfBare, error) {
	neg := false
	if p.peek() == '-' {
		neg = true
		p.pos++
	}
	start := p.pos
	dot := -1
	for !p.eof() {
		c := p.s[p.pos]
		if c >= '0' && c <= '9' {
			p.pos++
		} else if c == '.' && dot < 0 {
			if p.pos-start > 12 {
				return sfBare{}, p.fail("decimal has more than 12 integer digits")
			}
			dot = p.pos
			p.pos++
		} else {
			break
		}
		if dot < 0 && p.pos-start > 15 {
			return sfBare{}, p.fail("integer has more than 15 digits")
		}
		if dot >= 0 && p.pos-dot-1 > 3 {
			return sfBare{}, p.fail("decimal has more than 3 fractional digits")
		}
	}
	digits := p.s[start:p.pos]
	if digits == "" || digits[0] == '.' {
		return sfBare{}, p.fail("number has no integer digits")
	}
	if dot < 0 {
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return sfBare{}, p.fail("integer %q: %v", digits, err)
		}
		if neg {
			n = -n
		}
		return sfBare{Kind: sfInteger, Integer: n}, nil
	}
	intPart, frac := digits[:dot-start], digits[dot-start+1:]
	if frac == "" {
		return sfBare{}, p.fail("decimal ends with '.'")
	}
	ip, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return sfBare{}, p.fail("decimal %q: %v", digits, err)
	}
	fp, err := strconv.ParseInt((frac + "00")[:3], 10, 64)
	if err != nil {
		return sfBare{}, p.fail("decimal %q: %v", digits, err)
	}
	n := ip*1000 + fp
	if neg {
		n = -n
	}
	return sfBare{Kind: sfDecimal, Integer: n}, nil
}

// parseString follows §4.2.5: printable ASCII, with only \" and \\ escapes.
func (p *sfParser) parseString() (sfBare, error) {
	p.pos++ // opening DQUOTE
	// Fast path: no escape before the closing quote, so the value is a
	// substring of the field.
	for i := p.pos; i < len(p.s); i++ {
		c := p.s[i]
		if c == '"' {
			v := p.s[p.pos:i]
			p.pos = i + 1
			return sfBare{Kind: sfString, Str: v}, nil
		}
		if c == '\\' || c < 0x20 || c > 0x7e {
			break
		}
	}
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '\\':
			if p.eof() {
				return sfBare{}, p.fail("string ends after '\\'")
			}
			next := p.s[p.pos]
			if next != '"' && next != '\\' {
				return sfBare{}, p.fail("invalid escape '\\%c' in string", next)
			}
			p.pos++
			b.WriteByte(next)
		case c == '"':
			return sfBare{Kind: sfString, Str: b.String()}, nil
		case c < 0x20 || c > 0x7e:
			return sfBare{}, p.fail("byte 0x%02x not allowed in string", c)
		default:
			b.WriteByte(c)
		}
	}
	return sfBare{}, p.fail("string not closed")
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseToken follows §4.2.6.
func (p *sfParser) parseToken() (sfBare, error) {
	start := p.pos
	p.pos++
	for !p.eof() {
		c := p.s[p.pos]
		if !isTchar(c) && c != ':' && c != '/' {
			break
		}
		p.pos++
	}
	return sfBare{Kind: sfToken, Str: p.s[start:p.pos]}, nil
}

// parseBytes follows §4.2.7. As the RFC recommends, missing "=" padding is
// accepted; characters outside the base64 alphabet are not.
func (p *sfParser) parseBytes() (sfBare, error) {
	p.pos++ // opening ':'
	end := strings.IndexByte(p.s[p.pos:], ':')
	if end < 0 {
		return sfBare{}, p.fail("byte sequence not closed")
	}
	enc := p.s[p.pos : p.pos+end]
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=') {
			return sfBare{}, p.fail("byte 0x%02x not allowed in byte sequence", c)
		}
	}
	trimmed := strings.TrimRight(enc, "=")
	if strings.IndexByte(trimmed, '=') >= 0 {
		return sfBare{}, p.fail("'=' inside byte sequence")
	}
	b, err := base64.RawStdEncoding.DecodeString(trimmed)
	if err != nil {
		return sfBare{}, p.fail("byte sequence: %v", err)
	}
	if len(enc)-len(trimmed) > 2 || (len(enc) != len(trimmed) && len(enc)%4 != 0) {
		return sfBare{}, p.fail("byte sequence has wrong padding")
	}
	p.pos += end + 1
	return sfBare{Kind: sfBytes, Bytes: b}, nil
}

func (p *sfParser) parseBoolean() (sfBare, error) {
	p.pos++ // '?'
	switch p.peek() {
	case '1':
		p.pos++
		return sfBare{Kind: sfBoolean, Integer: 1}, nil
	case '0':
		p.pos++
		return sfBare{Kind: sfBoolean, Integer: 0}, nil
	}
	return sfBare{}, p.fail("boolean must be ?0 or ?1")
}

// Serialization (RFC 8941 §4.1). The serializers are given only values the
// parser produced or the signer built, and they return an error for a value
// RFC 8941 cannot represent rather than writing a field no one can parse.

func sfWriteBare(b *strings.Builder, v sfBare) error {
	switch v.Kind {
	case sfInteger:
		if v.Integer > 999_999_999_999_999 || v.Integer < -999_999_999_999_999 {
			return fmt.Errorf("%w: integer %d out of range", errSF, v.Integer)
		}
		b.WriteString(strconv.FormatInt(v.Integer, 10))
	case sfDecimal:
		n := v.Integer
		if n < 0 {
			b.WriteByte('-')
			n = -n
		}
		if n/1000 > 999_999_999_999 {
			return fmt.Errorf("%w: decimal out of range", errSF)
		}
		b.WriteString(strconv.FormatInt(n/1000, 10))
		b.WriteByte('.')
		frac := fmt.Sprintf("%03d", n%1000)
		frac = strings.TrimRight(frac, "0")
		if frac == "" {
			frac = "0"
		}
		b.WriteString(frac)
	case sfString:
		b.WriteByte('"')
		for i := 0; i < len(v.Str); i++ {
			c := v.Str[i]
			if c < 0x20 || c > 0x7e {
				return fmt.Errorf("%w: byte 0x%02x cannot be serialized in a string", errSF, c)
			}
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	case sfToken:
		if v.Str == "" {
			return fmt.Errorf("%w: empty token", errSF)
		}
		if c := v.Str[0]; !(c == '*' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return fmt.Errorf("%w: token %q has an invalid first character", errSF, v.Str)
		}
		for i := 1; i < len(v.Str); i++ {
			if c := v.Str[i]; !isTchar(c) && c != ':' && c != '/' {
				return fmt.Errorf("%w: token %q has an invalid character", errSF, v.Str)
			}
		}
		b.WriteString(v.Str)
	case sfBytes:
		b.WriteByte(':')
		b.WriteString(base64.StdEncoding.EncodeToString(v.Bytes))
		b.WriteByte(':')
	case sfBoolean:
		if v.Integer != 0 {
			b.WriteString("?1")
		} else {
			b.WriteString("?0")
		}
	default:
		return fmt.Errorf("%w: bare item of unknown kind %d", errSF, v.Kind)
	}
	return nil
}

func sfWriteKey(b *strings.Builder, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", errSF)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := (c >= 'a' && c <= 'z') || c == '*' ||
			(i > 0 && ((c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
		if !ok {
			return fmt.Errorf("%w: key %q has an invalid character", errSF, key)
		}
	}
	b.WriteString(key)
	return nil
}

func sfWriteParams(b *strings.Builder, params []sfParam) error {
	for _, p := range params {
		b.WriteByte(';')
		if err := sfWriteKey(b, p.Key); err != nil {
			return err
		}
		if p.Value.Kind == sfBoolean && p.Value.Integer == 1 {
			continue
		}
		b.WriteByte('=')
		if err := sfWriteBare(b, p.Value); err != nil {
			return err
		}
	}
	return nil
}

func sfWriteInnerList(b *strings.Builder, items []sfItem, params []sfParam) error {
	b.WriteByte('(')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		if err := sfWriteBare(b, it.Bare); err != nil {
			return err
		}
		if err := sfWriteParams(b, it.Params); err != nil {
			return err
		}
	}
	b.WriteByte(')')
	return sfWriteParams(b, params)
}

// sfSerializeDictionary serializes members as an RFC 8941 Dictionary.
func sfSerializeDictionary(members []sfMember) (string, error) {
	var b strings.Builder
	for i, m := range members {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := sfWriteKey(&b, m.Key); err != nil {
			return "", err
		}
		var err error
		switch {
		case m.IsInner:
			b.WriteByte('=')
			err = sfWriteInnerList(&b, m.Inner, m.Params)
		case m.Item.Bare.Kind == sfBoolean && m.Item.Bare.Integer == 1:
			err = sfWriteParams(&b, m.Item.Params)
		default:
			b.WriteByte('=')
			if err = sfWriteBare(&b, m.Item.Bare); err == nil {
				err = sfWriteParams(&b, m.Item.Params)
			}
		}
		if err != nil {
			return "", err
		}
	}
	return b.String(), nil
}
