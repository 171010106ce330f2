package wallet

// DocsKept returns how many of the service's payments have their doc in
// memory, and how many payments it has.
func DocsKept(s *Service) (docs, payments int) {
	for k := range s.payments.all() {
		payments++
		if k.doc.Load() != nil {
			docs++
		}
	}
	return docs, payments
}

// ReadHeadsFast turns the fast reading of payment docs' heads on start on
// or off (off: encoding/json reads every doc, the baseline of
// BenchmarkStart), and returns the setting it replaced.
func ReadHeadsFast(on bool) bool {
	was := readHeadsFast
	readHeadsFast = on
	return was
}
