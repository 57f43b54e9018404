# The default build on CPUs other than this one, emulated by QEMU's user mode (Debian's qemu-user):
#   - a CPU without AVX2 (Westmere) gets the one-line message of src/kernels/cpu_check.cpp, not a crash;
#   - an AVX2 CPU without AVX-512 (Haswell) runs the kernel tests with the avx2 variant (no illegal
#     instruction anywhere) and trains a model to the same bits as this machine does with its own variant.
# OpenBLAS picks its kernels by CPU as well; both runs pin them (OPENBLAS_CORETYPE=Haswell), as
# docs/portability.md says to do for runs that must match across machines.
#   cmake -DSEQNET=... -DTEST_KERNELS=... -DSOURCE_DIR=... -DWORK_DIR=... -P other_cpus.cmake
find_program(QEMU qemu-x86_64)
if(NOT QEMU)
  message("SKIPPED: qemu-x86_64 not found (apt-get install qemu-user)")
  return()
endif()

execute_process(COMMAND ${QEMU} -cpu Westmere ${SEQNET} --version RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "this CPU lacks AVX2")
  message(FATAL_ERROR "on a CPU without AVX2: exit ${rc}, stderr: ${err}")
endif()
message(STATUS "Westmere (no AVX2): ${err}")

execute_process(COMMAND ${QEMU} -cpu Haswell ${TEST_KERNELS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_QUIET)
if(NOT rc EQUAL 0 OR NOT out MATCHES "PASSED")
  message(FATAL_ERROR "test_kernels on Haswell (AVX2, no AVX-512): exit ${rc}\n${out}")
endif()
message(STATUS "Haswell (AVX2): test_kernels passed")

file(REMOVE_RECURSE ${WORK_DIR})
set(args train ${SOURCE_DIR}/experiments/series_rnn.json --epochs 2 --set dataset.train_samples=400
    --set dataset.val_samples=100 --set dataset.test_samples=100 --threads 1 --verbose 0)
set(ENV{OPENBLAS_CORETYPE} Haswell)
execute_process(COMMAND ${SEQNET} ${args} --out ${WORK_DIR}/here RESULT_VARIABLE rc_here ERROR_VARIABLE err_here)
execute_process(COMMAND ${QEMU} -cpu Haswell ${SEQNET} ${args} --out ${WORK_DIR}/haswell RESULT_VARIABLE rc_haswell
                ERROR_VARIABLE err_haswell)
if(NOT rc_here EQUAL 0 OR NOT rc_haswell EQUAL 0)
  message(FATAL_ERROR "training failed: here ${rc_here} ${err_here}, Haswell ${rc_haswell} ${err_haswell}")
endif()
file(READ ${WORK_DIR}/here/history.csv here)
file(READ ${WORK_DIR}/haswell/history.csv haswell)
if(NOT here STREQUAL haswell)
  message(FATAL_ERROR "the same binary trained differently on Haswell:\nhere:\n${here}\nHaswell:\n${haswell}")
endif()
message(STATUS "the same history here and on Haswell:\n${here}")
