#include "report.hpp"

namespace shmq::chaos {

uint64_t Findings::violations() const {
    return records.unexpected + records.misrouted + storage.two_offsets + storage.storage_order +
           groups[0].delivery.unexplained + groups[1].delivery.unexplained + groups[1].order.within_consumer +
           groups[1].order.first_delivery + records.malformed + journal.violations();
}

void print_report(std::ostream& out, const RunSummary& run, const Findings& f, const std::vector<std::string>& problems,
                  bool pass) {
    const auto kills = [&](Role r) {
        const auto it = run.kills.find(r);
        return it == run.kills.end() ? uint64_t{0} : it->second;
    };
    const RecordFiles& rf = f.records;
    const StorageOrderResult& so = f.storage;
    const ProducerKillFigures& pk = f.producer_kills;
    const JournalResult& jc = f.journal;
    uint64_t total_kills = 0;
    for (auto& [r, n] : run.kills) total_kills += n;
    out << "[chaos] ---- result (seed " << run.seed << ") ----\n";
    out << "  killing for         " << fixed(run.kill_seconds) << " s, then drained in " << fixed(run.drain_seconds)
        << " s" << (run.drained ? "" : " (NOT drained)") << "\n";
    out << "  kills               " << total_kills << ": producer " << kills(Role::producer) << ", shared consumer "
        << kills(Role::shared) << ", exclusive consumer " << kills(Role::exclusive) << ", shmqd "
        << kills(Role::shmqd) << "\n";
    out << "  producer kills      " << pk.ring_claim << " with a ring claim open, " << pk.staged_claim
        << " with a spill-staging claim open, " << pk.in_send << " inside send/claim/commit, " << pk.idle
        << " between messages\n";
    out << "  sent                " << run.sent << " acknowledged by " << run.producer_processes
        << " producer processes (" << run.dwells << " through a held claim); " << run.in_flight
        << " more in flight at a kill (received: shared " << f.groups[0].delivery.in_flight_received
        << ", exclusive " << f.groups[1].delivery.in_flight_received
        << "; not counted as sent or lost)\n";
    for (uint32_t gi = 0; gi < 2; ++gi) {
        const GroupFindings& gr = f.groups[gi];
        const DeliveryResult& d = gr.delivery;
        out << "  group " << kGroups[gi].name << " (" << kGroups[gi].kind << ")"
            << std::string(gi == 0 ? 4 : 1, ' ') << "received " << d.received << " distinct, lost " << d.lost
            << ", duplicates " << d.duplicates << " (of " << d.duplicated_messages << " messages; "
            << d.unexplained << " without a redelivery), records " << d.records << "\n";
        out << "      redelivery after a consumer kill: " << words(gr.redelivery.all) << " ("
            << gr.redelivery.kills_without_redelivery << " kills held nothing recorded)\n"
            << "          of which with shmqd up at the kill: " << words(gr.redelivery.shmqd_up) << "\n";
        if (kGroups[gi].group_kind == GroupKind::exclusive)
            out << "      order: " << gr.order.within_consumer << " offsets not rising within a consumer, "
                << gr.order.first_delivery << " first deliveries out of offset order\n";
        for (auto& e : gr.examples) out << "      " << e << "\n";
    }
    out << "  storage             " << so.storage_order << " (producer, key) order violations, "
        << so.two_offsets << " messages at two offsets, " << rf.misrouted << " in the wrong partition, "
        << rf.unexpected << " never sent, " << rf.malformed << " malformed records, " << rf.torn
        << " torn record tails (killed writes)\n";
    for (auto& e : f.examples) out << "      " << e << "\n";
    out << "  journal             " << jc.records << " records kept (retention 4 MiB per partition): "
        << jc.out_of_order << " out of order or twice, " << jc.mismatched << " not the delivered message, "
        << jc.missing << " delivered offsets missing, " << jc.behind << " partitions behind, " << jc.corrupt
        << " corrupt regions\n";
    out << "  partition stall     after a producer kill with a ring claim open (kill -> first delivery of an "
           "offset >= the claimed one in its partition; includes waiting for the next send there): "
        << words(pk.stall)
        << (pk.stall_unmeasured ? " (" + std::to_string(pk.stall_unmeasured) + " unmeasured)" : "")
        << "\n          of which with shmqd up at the kill: " << words(pk.stall_up) << "\n";
    out << "  dead claim repaired kill -> the reaper aborted the claim (partition's aborted count rose, polled "
           "every 0.5 ms): "
        << words(pk.repair);
    if (pk.repair_timed_out + pk.repair_no_snapshot + pk.repair_in_commit != 0)
        out << " (not timed: " << pk.repair_in_commit << " killed inside commit, " << pk.repair_timed_out
            << " with no abort counted within 5 s, " << pk.repair_no_snapshot
            << " with no snapshot before the kill)";
    out << "\n          of which with shmqd up at the kill: " << words(pk.repair_up) << "\n";
    out << "  spill               " << run.spilled << " messages went through spill staging; backlog up to "
        << run.max_spill_backlog << ", up to " << run.max_spill_disk << " on disk at once (sampled every 100 ms)\n";
    out << "  DLQ depth at end    " << run.dlq_depth << "; shmqd started " << run.shmqd_starts << " times\n";
    out << "  verdict             " << (pass ? "PASS" : "FAIL") << std::endl;
    for (auto& p : problems) out << "    - " << p.substr(0, p.find('\n')) << "\n";

    auto group_json = [&](uint32_t gi) {
        const GroupFindings& gr = f.groups[gi];
        const DeliveryResult& d = gr.delivery;
        std::string s = std::string("{\"kind\":\"") + kGroups[gi].kind + "\",\"received\":" + std::to_string(d.received) +
                        ",\"lost\":" + std::to_string(d.lost) + ",\"duplicates\":" + std::to_string(d.duplicates) +
                        ",\"unexplained_duplicates\":" + std::to_string(d.unexplained) +
                        ",\"in_flight_received\":" + std::to_string(d.in_flight_received) +
                        ",\"redelivery_after_kill\":" + json(gr.redelivery.all) +
                        ",\"redelivery_after_kill_shmqd_up\":" + json(gr.redelivery.shmqd_up);
        if (kGroups[gi].group_kind == GroupKind::exclusive)
            s += ",\"order_violations\":" + std::to_string(gr.order.within_consumer + gr.order.first_delivery);
        return s + "}";
    };
    out << "{\"chaos_run\":{\"seed\":" << run.seed << ",\"minutes\":" << run.minutes
        << ",\"killing_s\":" << fixed(run.kill_seconds) << ",\"drain_s\":" << fixed(run.drain_seconds)
        << ",\"drained\":" << (run.drained ? "true" : "false") << ",\"kills\":{\"producer\":"
        << kills(Role::producer) << ",\"shared_consumer\":" << kills(Role::shared)
        << ",\"exclusive_consumer\":" << kills(Role::exclusive) << ",\"shmqd\":" << kills(Role::shmqd)
        << "},\"sent\":" << run.sent << ",\"in_flight_at_kill\":" << run.in_flight << ",\"groups\":{\"shared\":"
        << group_json(0) << ",\"excl\":" << group_json(1) << "},\"partition_stall_after_producer_kill\":"
        << json(pk.stall) << ",\"partition_stall_shmqd_up\":" << json(pk.stall_up)
        << ",\"dead_claim_repair\":" << json(pk.repair) << ",\"dead_claim_repair_shmqd_up\":" << json(pk.repair_up)
        << ",\"storage_order_violations\":" << so.storage_order << ",\"two_offsets\":" << so.two_offsets
        << ",\"misrouted\":" << rf.misrouted << ",\"journal\":{\"records\":" << jc.records
        << ",\"violations\":" << jc.violations() << "}" << ",\"spilled\":" << run.spilled
        << ",\"max_spill_backlog\":" << run.max_spill_backlog << ",\"max_spill_on_disk\":" << run.max_spill_disk
        << ",\"never_sent\":" << rf.unexpected << ",\"dlq_depth\":" << run.dlq_depth
        << ",\"pass\":" << (pass ? "true" : "false") << "}}" << std::endl;
}

}  // namespace shmq::chaos
