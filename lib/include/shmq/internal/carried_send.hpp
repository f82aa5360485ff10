// A send that carries a message's dedup id (and its redrive count) without
// the dedup window's check: `shmq dlq redrive` (an operator's redrive is
// deliberate, so the window must not swallow it) and replays. The copy names
// no table entry, so it neither blocks nor is blocked by later sends of the
// id. It carries the attribute block too (routing key, headers: a redriven
// message keeps them). Declared in shmq.hpp (a friend of Producer); defined
// in producer.cpp. send_with_attributes, beside it: a send (dedup window
// and all) of a message with routing key and headers, for `bridge in`,
// which brings them back from a stream's NATS headers.
#pragma once

#include "shmq/shmq.hpp"
