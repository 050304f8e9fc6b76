package broker

// DescribeUserScramCredentials: v0
//
// Behaviour (KIP-554; Kafka's KRaft ScramCache.describeScramCredentials):
//   - DESCRIBE on the cluster is required, else the top-level error
//     CLUSTER_AUTHORIZATION_FAILED.
//   - Users null or empty describes every user with a credential; named
//     users get their mechanisms and iteration counts (never salts or
//     keys), RESOURCE_NOT_FOUND when they have none, DUPLICATE_RESOURCE
//     when named twice.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tandem-streaming/tandem/internal/acl"
	"github.com/tandem-streaming/tandem/internal/auth"
)

func init() {
	register(kmsg.DescribeUserSCRAMCredentials, 0, 0, (*Broker).handleDescribeUserScramCredentials)
}

func (b *Broker) handleDescribeUserScramCredentials(r *Request) Reply {
	req := r.Req.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !b.authorized(r, kmsg.ACLOperationDescribe, acl.Cluster) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(kerr.ClusterAuthorizationFailed.Description)
		return now(resp)
	}
	all := b.store.ScramCredentials()
	var users []string
	count := map[string]int{}
	if len(req.Users) == 0 {
		users = slices.Sorted(maps.Keys(all))
	} else {
		for _, u := range req.Users {
			if count[u.Name]++; count[u.Name] == 1 {
				users = append(users, u.Name)
			}
		}
	}
	for _, u := range users {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = u
		creds, ok := all[u]
		switch {
		case count[u] > 1:
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Cannot describe SCRAM credentials for the same user twice in a single request: %s", u))
		case !ok || len(creds) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Attempt to describe a user credential that does not exist: %s", u))
		default:
			for _, c := range creds {
				m, ok := auth.ScramMechanismByName(c.Mechanism)
				if !ok {
					continue
				}
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = m.Type, c.Iterations
				res.CredentialInfos = append(res.CredentialInfos, info)
			}
		}
		resp.Results = append(resp.Results, res)
	}
	return now(resp)
}
