# ctest's ring_model_weakened and lease_model_weakened_<x>: runs a weakened
# model and passes only if relacy caught it. A crash or any other failure
# does not count: the model must exit 1 after running its tests ("<name>
# model: FAILED") and relacy must have reported a data race (the weakened
# order no longer publishes a payload) or, lease, doorbell, writer and
# commit_barrier models, one of the model's own assertions (a protocol
# property broken). The wrap twins (EXPECT=stall_or_assert, tags compared
# unmasked) must be caught by a LIVELOCK (a thread waiting for a word it no
# longer recognises) or one of the model's assertions, and not by a race;
# EXPECT=assert: by an assertion only.
# Usage: cmake -DMODEL=<binary> -DITERATIONS=<n> [-DTEST=<x> -DFINISHED=lease]
#              [-DEXPECT=stall_or_assert|assert] -P expect_caught.cmake
if(NOT DEFINED FINISHED)
  set(FINISHED ring)
endif()
# The output goes through a file: a livelock's history runs to megabytes,
# which file(STRINGS) filters by line in no time and string(REGEX) does not.
if(DEFINED TEST)
  set(log "${MODEL}.${TEST}.out")
else()
  set(log "${MODEL}.out")
endif()
execute_process(COMMAND ${MODEL} ${ITERATIONS} ${TEST} OUTPUT_FILE "${log}" ERROR_FILE "${log}" RESULT_VARIABLE rc)
file(READ "${log}" out)
if(EXPECT STREQUAL "stall_or_assert" OR EXPECT STREQUAL "assert")
  string(FIND "${out}" "USER ASSERT FAILED (assertion:" race)
  if(race EQUAL -1 AND EXPECT STREQUAL "stall_or_assert")
    string(FIND "${out}" "LIVELOCK" race)
  endif()
  string(FIND "${out}" "DATA RACE" unexpected)
  if(NOT unexpected EQUAL -1)
    set(race -1)  # a race is another bug than the one this twin has
  endif()
else()
  string(FIND "${out}" "DATA RACE (data race detected)" race)
  if(NOT FINISHED STREQUAL "ring" AND race EQUAL -1)
    string(FIND "${out}" "USER ASSERT FAILED (assertion:" race)
  endif()
endif()
string(FIND "${out}" "${FINISHED} model: FAILED" finished)
if(NOT rc STREQUAL "1" OR race EQUAL -1 OR finished EQUAL -1)
  message("${out}")
  message(FATAL_ERROR "the weakened model was not caught by relacy (exit ${rc}); see its output above")
endif()
file(STRINGS "${log}" reports REGEX "DATA RACE \\(data race detected\\)|USER ASSERT FAILED|LIVELOCK")
list(REMOVE_DUPLICATES reports)  # relacy prints each in the history and again per thread
list(JOIN reports "\n" reports)
message("caught, as it must be:\n${reports}")
