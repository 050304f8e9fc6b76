package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLinkRemoteStateAge: a paired link's remote state age is exported,
// a link that has not heard of a peer (or does not pair) has no series.
func TestLinkRemoteStateAge(t *testing.T) {
	m := New(1)
	now := time.Unix(1000, 0)
	m.links.now = func() time.Time { return now }
	m.SetLinkSource(func() []LinkStat {
		return []LinkStat{
			{Link: "bidi", State: "ACTIVE", RemoteStateTime: now.Add(-2500 * time.Millisecond)},
			{Link: "plain", State: "ACTIVE"},
		}
	}, []string{"ACTIVE"}, nil)
	want := `# HELP tandem_link_remote_state_age_seconds Seconds since the paired link half last heard of its peer half (the age of its remote link state); grows while the peer is unreachable.
# TYPE tandem_link_remote_state_age_seconds gauge
tandem_link_remote_state_age_seconds{link="bidi"} 2.5
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "tandem_link_remote_state_age_seconds"); err != nil {
		t.Error(err)
	}
}
