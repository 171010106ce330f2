package protocol

import (
	"strings"
	"testing"
)

// RFC 9530 examples. "item" is the JSON object {"hello": "world"} followed
// by an LF, the representation of its Appendix B.
const (
	rfc9530Item          = "{\"hello\": \"world\"}\n"
	rfc9530ItemSHA256    = "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"                                             // Appendix B.1
	rfc9530EmptySHA256   = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"                                             // Appendix B.2 (empty content)
	rfc9530Partial       = "\"world\"}\n"                                                                                       // bytes 10-18 of item
	rfc9530PartialSHA256 = "sha-256=:jjcgBDWNAtbYUXI37CVG3gRuGOAjaaDRGpIUFsdyepQ=:"                                             // Appendix B.3
	rfc9530ItemSHA512    = "sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:" // §2
	// §2's two-member example. Its sha-256 member is not the digest of item
	// (it is Appendix B's digest of a brotli encoding), so a verifier that
	// checks every known member must refuse it.
	rfc9530Section2Both = "sha-256=:d435Qo+nKZ+gLcUHn7GQtQ72hiBVAgqoLsZnZPiTGPk=:, " + rfc9530ItemSHA512
)

func TestContentDigestRFC9530(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{rfc9530Item, rfc9530ItemSHA256},
		{"", rfc9530EmptySHA256},
		{rfc9530Partial, rfc9530PartialSHA256},
	} {
		if got := ContentDigest([]byte(tc.body)); got != tc.want {
			t.Errorf("ContentDigest(%q) = %s, want %s", tc.body, got, tc.want)
		}
		if err := VerifyContentDigest(tc.want, []byte(tc.body)); err != nil {
			t.Errorf("VerifyContentDigest(%s, %q): %v", tc.want, tc.body, err)
		}
	}
	if err := VerifyContentDigest(rfc9530ItemSHA512, []byte(rfc9530Item)); err != nil {
		t.Errorf("sha-512: %v", err)
	}
	if err := VerifyContentDigest(rfc9530ItemSHA256+", "+rfc9530ItemSHA512, []byte(rfc9530Item)); err != nil {
		t.Errorf("sha-256 and sha-512: %v", err)
	}
	checkSigDigestErr(t, VerifyContentDigest(rfc9530Section2Both, []byte(rfc9530Item)), ErrDigestMismatch)
}

func checkSigDigestErr(t *testing.T, err, want error) {
	t.Helper()
	if got := sigSentinelOf(err); got != want {
		t.Errorf("error = %v, want %v", err, want)
	}
}

func TestVerifyContentDigestFailClosed(t *testing.T) {
	body := []byte(rfc9530Item)
	sha256Of := rfc9530ItemSHA256
	for _, tc := range []struct {
		name, field string
		want        error
	}{
		{"unknown algorithm beside a matching one", "md5=:AAAA:, " + sha256Of + ", unixsum=:AAAA:", nil},
		{"unknown algorithm with a token value beside a matching one", "crc32c=abc, " + sha256Of, nil},
		{"padding omitted", strings.TrimSuffix(sha256Of, "=:") + ":", nil},
		{"whitespace", "  " + sha256Of + " ,\tmd5=:AAAA:  ", nil},
		{"parameters on a member are ignored", sha256Of + ";p=1", nil},
		{"absent", "", ErrDigestMissing},
		{"only spaces", "   ", ErrDigestMissing},
		{"only unknown algorithms", "md5=:AAAA:, sha=:AAAA:", ErrDigestUnsupported},
		{"uppercase key", "SHA-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:", ErrDigestMalformed},
		{"mismatch", rfc9530EmptySHA256, ErrDigestMismatch},
		{"sha-512 mismatch beside sha-256 match", sha256Of + ", sha-512=:" + strings.Repeat("A", 86) + "==:", ErrDigestMismatch},
		{"truncated value", "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8Fa:", ErrDigestMalformed},
		{"sha-256 value of sha-512 length", "sha-256=:" + strings.Repeat("A", 86) + "==:", ErrDigestMalformed},
		{"token value", "sha-256=abc", ErrDigestMalformed},
		{"string value", `sha-256="RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg="`, ErrDigestMalformed},
		{"inner list value", "sha-256=(:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:)", ErrDigestMalformed},
		{"boolean member", "sha-256", ErrDigestMalformed},
		{"repeated key", sha256Of + ", " + sha256Of, ErrDigestMalformed},
		{"base64url alphabet", "sha-256=:RK_0qy18MlBSVnWgjwz6lZEWjP_lF5HF9bvEF8FabDg=:", ErrDigestMalformed},
		{"unclosed", "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=", ErrDigestMalformed},
		{"legacy Digest syntax", "SHA-256=RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=", ErrDigestMalformed},
		{"too large", sha256Of + ", x=\"" + strings.Repeat("a", ContentDigestBytesMax) + "\"", ErrDigestMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSigDigestErr(t, VerifyContentDigest(tc.field, body), tc.want)
		})
	}
}
