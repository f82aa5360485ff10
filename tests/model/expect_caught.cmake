# ctest's ring_model_weakened: runs the weakened model and passes only if
# relacy caught it. A crash or any other failure does not count: the model
# must exit 1 after running every test ("ring model: FAILED") and relacy must
# have reported a data race (the weakened commit no longer publishes the
# payload). Usage: cmake -DMODEL=<binary> -DITERATIONS=<n> -P expect_caught.cmake
execute_process(COMMAND ${MODEL} ${ITERATIONS} OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
string(FIND "${out}" "DATA RACE (data race detected)" race)
string(FIND "${out}" "ring model: FAILED" finished)
if(NOT rc STREQUAL "1" OR race EQUAL -1 OR finished EQUAL -1)
  message("${out}")
  message(FATAL_ERROR "the weakened model was not caught by relacy (exit ${rc}); see its output above")
endif()
string(REGEX MATCHALL "[^\n]*DATA RACE \\(data race detected\\), in [^\n]*" reports "${out}")
list(REMOVE_DUPLICATES reports)  # relacy prints each in the history and again per thread
list(JOIN reports "\n" reports)
message("caught, as it must be:\n${reports}")
