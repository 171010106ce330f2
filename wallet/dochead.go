package wallet

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/agentpay/agentpay/internal/jsonscan"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/risk"
)

// paymentHead is what the service needs of a payment doc when it starts:
// the members its indexes hold (kept), the legs and closed mandate that
// tell a legacy jti, the mandate whose last use it sets and the payee it
// has seen. The rest of the doc (decision, risk, amounts) is decoded when
// the payment is read.
type paymentHead struct {
	id, mandate, agent, owner, wallet, payee, status string
	closed                                           []byte // the closed mandate, a slice of the doc
	legs                                             []Leg
	created                                          time.Time
	expires                                          *time.Time
	answered                                         bool
}

// headOf returns p's head.
func headOf(p *Payment) paymentHead {
	return paymentHead{id: p.ID, mandate: p.Mandate, agent: p.Agent, owner: p.Owner, wallet: p.Wallet, payee: p.Payee,
		status: p.Status, closed: []byte(p.Closed), legs: p.Legs, created: p.CreatedAt, expires: p.ExpiresAt,
		answered: p.Answer != nil}
}

// readHeadsFast is whether decodeHead tries readPaymentHead first; only
// BenchmarkStart's baseline turns it off.
var readHeadsFast = true

// decodeHead reads doc's head: by readPaymentHead when the doc is of the
// shape the service writes, else by encoding/json into a Payment (so
// that a doc of another shape reads as it always has, and a doc that is
// not a payment's JSON fails as it always has).
func decodeHead(doc []byte, n names) (paymentHead, error) {
	var h paymentHead
	if readHeadsFast && readPaymentHead(doc, &h, n) {
		return h, nil
	}
	var p Payment
	if err := json.Unmarshal(doc, &p); err != nil {
		return paymentHead{}, err
	}
	h = headOf(&p)
	h.owner, h.agent, h.status = n.str(h.owner), n.str(h.agent), n.str(h.status)
	return h, nil
}

// names holds one copy of each string many payments share (their
// owners, agents and statuses) while the service loads, so that the
// payments it keeps share them too.
type names map[string]string

// of returns b as a string, the copy held when there is one.
func (n names) of(b []byte) string {
	if s, ok := n[string(b)]; ok {
		return s
	}
	return n.str(string(b))
}

// str returns s, or the copy held of it.
func (n names) str(s string) string {
	if c, ok := n[s]; ok {
		return c
	}
	if n != nil {
		n[s] = s
	}
	return s
}

// readPaymentHead reads the head of a payment doc (a payment's, or a
// purchase's: the payment's members and its checkout) without
// reflection: on start the service reads every payment's doc, and
// encoding/json made that about 40 µs a doc. It reads the members the
// head needs as encoding/json would decode them into a Payment and checks
// that every other value is JSON; it gives up (false) on anything of
// another shape: invalid UTF-8, a string with an escape, a member given
// twice, a member name encoding/json could match to a field only
// case-insensitively, a value of the wrong type. FuzzPaymentHead checks
// that whatever it reads, encoding/json reads alike. Owners, agents and
// statuses are taken from n when it holds them (and added to it).
func readPaymentHead(doc []byte, h *paymentHead, n names) bool {
	if !utf8.Valid(doc) { // encoding/json would replace the invalid bytes in strings
		return false
	}
	s := jsonscan.New(doc)
	ok := s.Object(func(name []byte) bool {
		switch string(name) {
		case "id":
			return s.Str(&h.id)
		case "mandate":
			return s.Str(&h.mandate)
		case "agent":
			v, ok := s.Raw()
			h.agent = n.of(v)
			return ok
		case "owner":
			v, ok := s.Raw()
			h.owner = n.of(v)
			return ok
		case "wallet":
			return s.Str(&h.wallet)
		case "payee":
			return s.Str(&h.payee)
		case "status":
			v, ok := s.Raw()
			h.status = n.of(v)
			return ok
		case "closed_mandate":
			v, ok := s.Raw()
			h.closed = v
			return ok
		case "legs":
			return readLegs(s, &h.legs)
		case "created_at":
			v, ok := s.Raw()
			return ok && h.created.UnmarshalText(v) == nil
		case "expires_at":
			if s.Null() {
				h.expires = nil
				return true
			}
			v, ok := s.Raw()
			var t time.Time
			if !ok || t.UnmarshalText(v) != nil {
				return false
			}
			h.expires = &t
			return true
		case "answer":
			h.answered = !s.Null()
			return !h.answered || s.Skip()
		}
		return lowerASCII(name) && s.Skip() // the members the head does not need
	})
	return ok && s.End()
}

// readLegs reads a payment's legs (null: none).
func readLegs(s *jsonscan.Scanner, legs *[]Leg) bool {
	if s.Null() {
		*legs = nil
		return true
	}
	out := make([]Leg, 0, 4) // a payment has 2 to 4 legs
	ok := s.Array(func() bool {
		var l Leg
		out = append(out, l)
		leg := &out[len(out)-1]
		return s.Object(func(name []byte) bool {
			switch string(name) {
			case "name":
				return s.Str(&leg.Name)
			case "transfer":
				v, ok := s.Raw()
				return ok && leg.Transfer.UnmarshalText(v) == nil
			case "account":
				v, ok := s.Raw()
				return ok && leg.Account.UnmarshalText(v) == nil
			}
			return lowerASCII(name) && s.Skip()
		})
	})
	*legs = out
	return ok
}

// lowerASCII reports whether name has no upper-case letter and no byte
// outside ASCII: encoding/json matches a member to a field by name, and
// failing that case-insensitively (Unicode folds "ſ" to "s" and "K", the
// Kelvin sign, to "k"), so only such a name that is no field's is one it
// ignores for certain.
func lowerASCII(name []byte) bool {
	for _, c := range name {
		if c >= 0x80 || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// readPayment reads a whole payment doc into p without reflection, by the
// rules of readPaymentHead (the members encoding/json would decode into a
// Payment, each as it would; any other member only checked to be JSON;
// anything of another shape gives up, leaving p to be decoded again). A
// payment read again (by id, in a listing's page) is read this way.
// FuzzPaymentRead checks that whatever it reads, encoding/json reads
// alike.
func readPayment(doc []byte, p *Payment) bool {
	if !utf8.Valid(doc) {
		return false
	}
	s := jsonscan.New(doc)
	ok := s.Object(func(name []byte) bool {
		switch string(name) {
		case "id":
			return s.Str(&p.ID)
		case "mandate":
			return s.Str(&p.Mandate)
		case "agent":
			return s.Str(&p.Agent)
		case "owner":
			return s.Str(&p.Owner)
		case "wallet":
			return s.Str(&p.Wallet)
		case "payee":
			return s.Str(&p.Payee)
		case "amount":
			return s.Int64(&p.Amount)
		case "currency":
			return s.Str(&p.Currency)
		case "scale":
			return s.Uint8(&p.Scale)
		case "status":
			return s.Str(&p.Status)
		case "closed_mandate":
			return s.Str(&p.Closed)
		case "hold_reason":
			return s.Str(&p.Hold)
		case "decision":
			return readDecision(s, &p.Decision)
		case "evaluated":
			p.evaluated = &evaluated{}
			return readEvaluated(s, p.evaluated)
		case "risk":
			return readRisk(s, &p.Risk)
		case "legs":
			return readLegs(s, &p.Legs)
		case "limits":
			return readLimits(s, &p.Limits)
		case "created_at":
			return readTime(s, &p.CreatedAt)
		case "expires_at":
			if s.Null() {
				p.ExpiresAt = nil
				return true
			}
			p.ExpiresAt = new(time.Time)
			return readTime(s, p.ExpiresAt)
		case "answer":
			if s.Null() {
				p.Answer = nil
				return true
			}
			p.Answer = &Answer{}
			return s.Object(func(name []byte) bool {
				switch string(name) {
				case "approved":
					return s.Bool(&p.Answer.Approved)
				case "at":
					return readTime(s, &p.Answer.At)
				}
				return lowerASCII(name) && s.Skip()
			})
		}
		return lowerASCII(name) && s.Skip()
	})
	return ok && s.End()
}

// strAs reads a string into a string type.
func strAs[T ~string](s *jsonscan.Scanner, dst *T) bool {
	var v string
	ok := s.Str(&v)
	*dst = T(v)
	return ok
}

func readTime(s *jsonscan.Scanner, t *time.Time) bool {
	v, ok := s.Raw()
	return ok && t.UnmarshalText(v) == nil
}

func readDecision(s *jsonscan.Scanner, d *protocol.Decision) bool {
	return s.Object(func(name []byte) bool {
		switch string(name) {
		case "outcome":
			return strAs(s, &d.Outcome)
		case "code":
			return strAs(s, &d.Code)
		case "checks":
			if s.Null() {
				d.Checks = nil
				return true
			}
			d.Checks = []protocol.Check{}
			return s.Array(func() bool {
				d.Checks = append(d.Checks, protocol.Check{})
				return readCheck(s, &d.Checks[len(d.Checks)-1])
			})
		}
		return lowerASCII(name) && s.Skip()
	})
}

func readCheck(s *jsonscan.Scanner, c *protocol.Check) bool {
	return s.Object(func(name []byte) bool {
		switch string(name) {
		case "mandate":
			return s.Str(&c.Mandate)
		case "index":
			var n int64
			ok := s.Int64(&n)
			c.Index = int(n)
			return ok
		case "type":
			return s.Str(&c.Type)
		case "result":
			return strAs(s, &c.Result)
		case "code":
			return strAs(s, &c.Code)
		case "detail":
			return s.Str(&c.Detail)
		case "limits":
			return readLimits(s, &c.Limits)
		}
		return lowerASCII(name) && s.Skip()
	})
}

func readLimits(s *jsonscan.Scanner, ls *[]protocol.Limit) bool {
	if s.Null() {
		*ls = nil
		return true
	}
	*ls = []protocol.Limit{}
	return s.Array(func() bool {
		*ls = append(*ls, protocol.Limit{})
		l := &(*ls)[len(*ls)-1]
		return s.Object(func(name []byte) bool {
			switch string(name) {
			case "name":
				return s.Str(&l.Name)
			case "unit":
				return s.Str(&l.Unit)
			case "scale":
				return s.Uint8(&l.Scale)
			case "max":
				return s.Int64(&l.Max)
			case "used":
				return s.Int64(&l.Used)
			case "requested":
				return s.Int64(&l.Requested)
			case "remaining":
				return s.Int64(&l.Remaining)
			}
			return lowerASCII(name) && s.Skip()
		})
	})
}

func readRisk(s *jsonscan.Scanner, d *risk.Decision) bool {
	return s.Object(func(name []byte) bool {
		switch string(name) {
		case "outcome":
			return strAs(s, &d.Outcome)
		case "matches":
			if s.Null() {
				d.Matches = nil
				return true
			}
			d.Matches = []risk.Match{}
			return s.Array(func() bool {
				d.Matches = append(d.Matches, risk.Match{})
				m := &d.Matches[len(d.Matches)-1]
				return s.Object(func(name []byte) bool {
					switch string(name) {
					case "rule_id":
						return s.Str(&m.RuleID)
					case "scope":
						return s.Str(&m.Scope)
					case "outcome":
						return strAs(s, &m.Outcome)
					case "reason":
						return s.Str(&m.Reason)
					case "error":
						return s.Str(&m.Error)
					}
					return lowerASCII(name) && s.Skip()
				})
			})
		}
		return lowerASCII(name) && s.Skip()
	})
}
