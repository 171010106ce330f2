package protocol

// A fast path for decoding the payload an agent signs on every payment
// (the closed payment mandate), which encoding/json's reflection made one
// of the costliest steps of a payment. It reads only the usual shape:
// known members, strings without escapes or control characters, integers
// in range, aud as a string or an array of strings. Anything else (an
// escape, a float, an unknown member, a repeated member, a value of the
// wrong type) makes it give up, and decodeStrict checks and decodes as
// always, so every error and every unusual accepted input is the strict
// path's. What the fast path accepts is of a shape checkJSONShape accepts
// (known member names, none repeated, no null, two levels deep), so it
// runs without that scan. FuzzFastDecodeMatches checks that whatever the
// fast path accepts, checkJSONShape and encoding/json accept with the
// same result.

import "github.com/agentpay/agentpay/internal/jsonscan"

// fastDecoder is a payload type with a fast path. decodeFast runs on
// valid UTF-8; it returns false, leaving the value zero, when data is not
// of the shape it reads, and accepts only what checkJSONShape accepts.
// data is the payload Parse decoded into its own buffer, which nothing
// modifies afterwards, so the strings read share it rather than copy it
// (a closed mandate's dozen strings are a dozen allocations fewer).
type fastDecoder interface {
	decodeFast(data []byte) bool
}

// readAudience reads aud as encoding/json decodes it into Audience: a
// string is one entry, an array of strings is all of them (empty, not
// nil).
func readAudience(s *jsonscan.Scanner, dst *Audience) bool {
	var one string
	if s.Str(&one) {
		*dst = Audience{one}
		return true
	}
	out := Audience{}
	if !s.Array(func() bool {
		var v string
		if !s.Str(&v) {
			return false
		}
		out = append(out, v)
		return true
	}) {
		return false
	}
	*dst = out
	return true
}

// readClaim reads the registered claim name into c.
func readClaim(s *jsonscan.Scanner, c *Claims, name []byte) bool {
	switch string(name) {
	case "vct":
		return s.Str(&c.VCT)
	case "iss":
		return s.Str(&c.Issuer)
	case "sub":
		return s.Str(&c.Subject)
	case "aud":
		return readAudience(s, &c.Audience)
	case "iat":
		return s.Int64(&c.IssuedAt)
	case "nbf":
		return s.Int64(&c.NotBefore)
	case "exp":
		return s.Int64(&c.Expiry)
	case "jti":
		return s.Str(&c.ID)
	}
	return false
}

func (m *ClosedPaymentMandate) decodeFast(data []byte) bool {
	s := jsonscan.NewShared(data)
	ok := s.Object(func(name []byte) bool {
		switch string(name) {
		case "transaction_id":
			return s.Str(&m.TransactionID)
		case "payee":
			return s.Object(func(name []byte) bool {
				switch string(name) {
				case "id":
					return s.Str(&m.Payee.ID)
				case "name":
					return s.Str(&m.Payee.Name)
				case "website":
					return s.Str(&m.Payee.Website)
				}
				return false
			})
		case "payment_amount":
			return s.Object(func(name []byte) bool {
				switch string(name) {
				case "amount":
					return s.Int64(&m.PaymentAmount.Amount)
				case "currency":
					return s.Str(&m.PaymentAmount.Currency)
				case "scale":
					return s.Uint8(&m.PaymentAmount.Scale)
				}
				return false
			})
		case "payment_instrument":
			return s.Object(func(name []byte) bool {
				switch string(name) {
				case "id":
					return s.Str(&m.PaymentInstrument.ID)
				case "type":
					return s.Str(&m.PaymentInstrument.Type)
				case "description":
					return s.Str(&m.PaymentInstrument.Description)
				}
				return false
			})
		case "execution_date":
			return s.Int64(&m.ExecutionDate)
		case "open_mandate_hash":
			return s.Str(&m.OpenMandateHash)
		case "modality":
			var v string
			ok := s.Str(&v)
			m.Modality = Modality(v)
			return ok
		}
		return readClaim(s, &m.Claims, name)
	})
	if !ok || !s.End() {
		*m = ClosedPaymentMandate{}
		return false
	}
	return true
}
