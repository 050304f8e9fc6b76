package broker

// AlterUserScramCredentials: v0
//
// Behaviour (KIP-554; Kafka's KRaft ScramControlManager.alterCredentials,
// what kafka-configs --alter --entity-type users --add-config
// 'SCRAM-SHA-512=[password=...]' sends):
//   - ALTER on the cluster is required, else CLUSTER_AUTHORIZATION_FAILED
//     for every user.
//   - Upsertions carry the salted password; the broker keeps only the salt,
//     iterations, StoredKey and ServerKey derived from it.
//   - Per user, one result: a user named more than once in the request
//     (deletions and upsertions together) DUPLICATE_RESOURCE; an empty name
//     UNACCEPTABLE_CREDENTIAL; an unknown mechanism
//     UNSUPPORTED_SASL_MECHANISM; iterations outside [4096, 16384]
//     UNACCEPTABLE_CREDENTIAL ("Too few/many iterations"); an empty salt or
//     salted password UNACCEPTABLE_CREDENTIAL; deleting a credential that
//     does not exist RESOURCE_NOT_FOUND.
//   - The valid alterations are written in one metadata write; results of
//     applied users come first, in request order, then the failed ones.

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
	"github.com/tandem-streaming/tandem/internal/metadata"
)

func init() {
	register(kmsg.AlterUserSCRAMCredentials, 0, 0, (*Broker).handleAlterUserScramCredentials)
}

type scramAlterError struct {
	code int16
	msg  string
}

func (b *Broker) handleAlterUserScramCredentials(r *Request) Reply {
	req := r.Req.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)

	var order []string // users, in first-appearance order
	count := map[string]int{}
	note := func(u string) {
		if count[u]++; count[u] == 1 {
			order = append(order, u)
		}
	}
	for _, d := range req.Deletions {
		note(d.Name)
	}
	for _, u := range req.Upsertions {
		note(u.Name)
	}
	result := func(user string, code int16, msg string) {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User, res.ErrorCode = user, code
		if msg != "" {
			res.ErrorMessage = kmsg.StringPtr(msg)
		}
		resp.Results = append(resp.Results, res)
	}
	if !b.authorized(r, kmsg.ACLOperationAlter, acl.Cluster) {
		for _, u := range order {
			result(u, kerr.ClusterAuthorizationFailed.Code, kerr.ClusterAuthorizationFailed.Description)
		}
		return now(resp)
	}

	failed := map[string]scramAlterError{}
	fail := func(user string, code int16, msg string) {
		if _, ok := failed[user]; !ok {
			failed[user] = scramAlterError{code, msg}
		}
	}
	b.adminMu.Lock()
	defer b.adminMu.Unlock()
	var dels []metadata.ScramDeletion
	var delUsers []string
	// check applies the rules deletions and upsertions share.
	check := func(user string, mech int8) (auth.ScramMechanism, bool) {
		m, ok := auth.ScramMechanismByType(mech)
		switch {
		case count[user] > 1:
			fail(user, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
		case user == "":
			fail(user, kerr.UnacceptableCredential.Code, "Username must not be empty")
		case !ok:
			fail(user, kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism.")
		default:
			return m, true
		}
		return m, false
	}
	for _, d := range req.Deletions {
		if m, ok := check(d.Name, d.Mechanism); ok {
			if _, exists := b.store.ScramCredential(d.Name, m.Name); !exists {
				fail(d.Name, kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist")
				continue
			}
			dels = append(dels, metadata.ScramDeletion{User: d.Name, Mechanism: m.Name})
			delUsers = append(delUsers, d.Name)
		}
	}
	var ups []metadata.ScramCredential
	for _, u := range req.Upsertions {
		m, ok := check(u.Name, u.Mechanism)
		switch {
		case !ok:
		case u.Iterations < m.MinIterations:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Too few iterations")
		case u.Iterations > m.MaxIterations:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Too many iterations")
		case len(u.Salt) == 0 || len(u.SaltedPassword) == 0:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty")
		default:
			c := m.CredentialFromSalted(u.SaltedPassword, u.Salt, u.Iterations)
			ups = append(ups, metadata.ScramCredential{User: u.Name, Mechanism: m.Name, Salt: c.Salt,
				StoredKey: c.StoredKey, ServerKey: c.ServerKey, Iterations: c.Iterations})
		}
	}
	if len(dels)+len(ups) > 0 {
		errs, err := b.store.AlterScramCredentials(ups, dels)
		if err != nil {
			b.logger.Error("storing SCRAM credentials failed", "err", err)
			for _, d := range delUsers {
				fail(d, kerr.UnknownServerError.Code, "The metadata store failed to write the credentials")
			}
			for _, u := range ups {
				fail(u.User, kerr.UnknownServerError.Code, "The metadata store failed to write the credentials")
			}
		}
		for i, e := range errs {
			user := ""
			if i < len(dels) {
				user = dels[i].User
			} else {
				user = ups[i-len(dels)].User
			}
			switch {
			case e == nil:
			case errors.Is(e, metadata.ErrUnknownScramCredential):
				fail(user, kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist")
			default:
				fail(user, kerr.UnacceptableCredential.Code, e.Error())
			}
		}
	}
	for _, u := range order {
		if _, bad := failed[u]; !bad {
			result(u, 0, "")
		}
	}
	for _, u := range order {
		if e, bad := failed[u]; bad {
			result(u, e.code, e.msg)
		}
	}
	return now(resp)
}
