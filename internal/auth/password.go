package auth

// PasswordChecker checks a user name and password (HTTP BASIC
// authentication).
type PasswordChecker interface {
	CheckPassword(user, password string) bool
}

// NewPasswordChecker checks passwords against the SCRAM credentials (any
// mechanism the user has one for: the password is salted with the stored
// salt and iterations and the derived StoredKey compared) and the PLAIN
// users of a JAAS configuration (either may be nil).
func NewPasswordChecker(scram ScramCredentials, plain PlainUsers) PasswordChecker {
	return passwordChecker{scram: scram, plain: plain}
}

type passwordChecker struct {
	scram ScramCredentials
	plain PlainUsers
}

func (p passwordChecker) CheckPassword(user, password string) bool {
	if user == "" || password == "" {
		return false
	}
	if _, ok := p.plain[user]; ok && p.plain.Check(user, password) {
		return true
	}
	if p.scram == nil {
		return false
	}
	for _, m := range ScramMechanisms {
		if c, ok := p.scram.ScramCredential(user, m.Name); ok && m.CheckPassword(c, password) {
			return true
		}
	}
	return false
}
