# ctest's ring_model_weakened and lease_model_weakened_<x>: runs a weakened
# model and passes only if relacy caught it. A crash or any other failure
# does not count: the model must exit 1 after running its tests ("<name>
# model: FAILED") and relacy must have reported a data race (the weakened
# order no longer publishes a payload) or, lease, doorbell, writer and
# commit_barrier models, one of the model's own assertions (a protocol
# property broken).
# Usage: cmake -DMODEL=<binary> -DITERATIONS=<n> [-DTEST=<x> -DFINISHED=lease] -P expect_caught.cmake
if(NOT DEFINED FINISHED)
  set(FINISHED ring)
endif()
execute_process(COMMAND ${MODEL} ${ITERATIONS} ${TEST} OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
string(FIND "${out}" "DATA RACE (data race detected)" race)
if(NOT FINISHED STREQUAL "ring" AND race EQUAL -1)
  string(FIND "${out}" "USER ASSERT FAILED (assertion:" race)
endif()
string(FIND "${out}" "${FINISHED} model: FAILED" finished)
if(NOT rc STREQUAL "1" OR race EQUAL -1 OR finished EQUAL -1)
  message("${out}")
  message(FATAL_ERROR "the weakened model was not caught by relacy (exit ${rc}); see its output above")
endif()
string(REGEX MATCHALL "[^\n]*(DATA RACE \\(data race detected\\)|USER ASSERT FAILED)[^\n]*" reports "${out}")
list(REMOVE_DUPLICATES reports)  # relacy prints each in the history and again per thread
list(JOIN reports "\n" reports)
message("caught, as it must be:\n${reports}")
