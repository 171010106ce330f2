package wallet

// DocsKept returns how many of the service's payments have their doc in
// memory, and how many payments it has.
func DocsKept(s *Service) (docs, payments int) {
	s.payments.Range(func(_, v any) bool {
		payments++
		if v.(*kept).doc.Load() != nil {
			docs++
		}
		return true
	})
	return docs, payments
}
