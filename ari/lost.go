package ari

// LossHandler is an optional interface of a [Handler]. When the read loop
// had to drop events because the dispatch queue was full
// ([Config.QueueSize]: the Handler lagged), EventsLost(n) is called on
// the dispatch goroutine once it can queue again, in order: after every
// event queued before the first drop and before every event read after
// the last. The n events lost may be of any channel, as during an outage:
// a handler resyncs as it does on Connected. A Handler without EventsLost
// only sees the drops in Stats.Dropped and the log.
type LossHandler interface {
	EventsLost(n uint64)
}

// noteLoss queues the loss report of the events dropped so far (*lost),
// if there is room for it and an event after it; the read loop calls it
// before queueing each event, and is then the only sender on q.
func noteLoss(q chan<- item, lost *uint64) {
	if *lost == 0 || len(q) >= cap(q)-controlSlots-1 {
		return
	}
	select {
	case q <- item{lost: *lost}:
		*lost = 0
	default:
	}
}
