// kvm-hold: creates one empty KVM virtual machine and keeps it until killed.
//
// Run by the nested test host's init (tests/host/mkhost.sh). KVM turns
// virtualization on in every CPU (EFER.SVME) when the first VM is created and
// off again when the last one is destroyed, each time by an IPI to all CPUs.
// Under QEMU's emulated SVM one of those IPIs is now and then never answered,
// and the test host's kernel locks up in kvm_destroy_vm. With one VM held for
// the host's whole life, the tests' VMs come and go without those IPIs.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        perror("kvm-hold: /dev/kvm");
        return 1;
    }
    if (ioctl(kvm, KVM_CREATE_VM, 0) < 0) {
        perror("kvm-hold: KVM_CREATE_VM");
        return 1;
    }
    for (;;)
        pause();
}
