// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: a store's attributes in sysfs, one value per file, read-only, in
 * /sys/class/misc/<store>/ (the counters in its stat/ directory). They are
 * what RAWKV_IOC_STAT returns, under the same names; the text that
 * documents them is Documentation/ABI/testing/sysfs-class-misc-rawkv.
 *
 * misc_register() creates them with the device node and misc_deregister()
 * removes them, waiting for readers, before a store is freed.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/device.h>
#include <linux/miscdevice.h>
#include <linux/sysfs.h>

#include "rawkv.h"

static struct rawkv_dev *rawkv_attr_dev(struct device *dev)
{
	struct miscdevice *misc = dev_get_drvdata(dev);

	return container_of(misc, struct rawkv_dev, misc);
}

/* An attribute showing one __u64 field of struct rawkv_ioc_stat. */
struct rawkv_stat_attr {
	struct device_attribute attr;
	size_t off;
};

static ssize_t rawkv_stat_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct rawkv_stat_attr *sa = container_of(attr, struct rawkv_stat_attr,
						  attr);
	struct rawkv_ioc_stat st = {};
	u64 v;

	rawkv_fill_stat(rawkv_attr_dev(dev), &st);
	memcpy(&v, (char *)&st + sa->off, sizeof(v));
	return sysfs_emit(buf, "%llu\n", v);
}

#define RAWKV_STAT_ATTR(_name)						\
static struct rawkv_stat_attr rawkv_attr_##_name = {			\
	.attr = {							\
		.attr = { .name = #_name, .mode = 0444 },		\
		.show = rawkv_stat_show,				\
	},								\
	.off = offsetof(struct rawkv_ioc_stat, _name),			\
}

RAWKV_STAT_ATTR(slot_size);
RAWKV_STAT_ATTR(value_max);
RAWKV_STAT_ATTR(key_max);
RAWKV_STAT_ATTR(slots_total);
RAWKV_STAT_ATTR(slots_used);
RAWKV_STAT_ATTR(device_bytes);
RAWKV_STAT_ATTR(logical_block_size);
RAWKV_STAT_ATTR(checkpoint_seq);
RAWKV_STAT_ATTR(entry_mem_bytes);
RAWKV_STAT_ATTR(table_mem_bytes);
RAWKV_STAT_ATTR(crc32c_mbps);

RAWKV_STAT_ATTR(puts);
RAWKV_STAT_ATTR(gets);
RAWKV_STAT_ATTR(hits);
RAWKV_STAT_ATTR(misses);
RAWKV_STAT_ATTR(deletes);
RAWKV_STAT_ATTR(evictions);
RAWKV_STAT_ATTR(checkpoints);
RAWKV_STAT_ATTR(bytes_written);
RAWKV_STAT_ATTR(bytes_read);
RAWKV_STAT_ATTR(io_errors);
RAWKV_STAT_ATTR(load_dropped);
RAWKV_STAT_ATTR(stale_dropped);
RAWKV_STAT_ATTR(bytes_zero_copy);
RAWKV_STAT_ATTR(bytes_bounced);

static ssize_t backing_dev_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", rawkv_attr_dev(dev)->path);
}
static DEVICE_ATTR_RO(backing_dev);

static ssize_t crc32c_driver_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", rawkv_crc32c_info.driver);
}
static DEVICE_ATTR_RO(crc32c_driver);

static ssize_t checkpoint_ms_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", rawkv_attr_dev(dev)->checkpoint_ms);
}
static DEVICE_ATTR_RO(checkpoint_ms);

static ssize_t evict_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%d\n", rawkv_attr_dev(dev)->evict);
}
static DEVICE_ATTR_RO(evict);

static struct attribute *rawkv_store_attrs[] = {
	&dev_attr_backing_dev.attr,
	&rawkv_attr_slot_size.attr.attr,
	&rawkv_attr_value_max.attr.attr,
	&rawkv_attr_key_max.attr.attr,
	&rawkv_attr_slots_total.attr.attr,
	&rawkv_attr_slots_used.attr.attr,
	&rawkv_attr_device_bytes.attr.attr,
	&rawkv_attr_logical_block_size.attr.attr,
	&rawkv_attr_checkpoint_seq.attr.attr,
	&dev_attr_checkpoint_ms.attr,
	&dev_attr_evict.attr,
	&rawkv_attr_entry_mem_bytes.attr.attr,
	&rawkv_attr_table_mem_bytes.attr.attr,
	&dev_attr_crc32c_driver.attr,
	&rawkv_attr_crc32c_mbps.attr.attr,
	NULL
};

static const struct attribute_group rawkv_store_group = {
	.attrs = rawkv_store_attrs,
};

static struct attribute *rawkv_counter_attrs[] = {
	&rawkv_attr_puts.attr.attr,
	&rawkv_attr_gets.attr.attr,
	&rawkv_attr_hits.attr.attr,
	&rawkv_attr_misses.attr.attr,
	&rawkv_attr_deletes.attr.attr,
	&rawkv_attr_evictions.attr.attr,
	&rawkv_attr_checkpoints.attr.attr,
	&rawkv_attr_bytes_written.attr.attr,
	&rawkv_attr_bytes_read.attr.attr,
	&rawkv_attr_io_errors.attr.attr,
	&rawkv_attr_load_dropped.attr.attr,
	&rawkv_attr_stale_dropped.attr.attr,
	&rawkv_attr_bytes_zero_copy.attr.attr,
	&rawkv_attr_bytes_bounced.attr.attr,
	NULL
};

static const struct attribute_group rawkv_counter_group = {
	.name = "stat",
	.attrs = rawkv_counter_attrs,
};

const struct attribute_group *rawkv_store_groups[] = {
	&rawkv_store_group,
	&rawkv_counter_group,
	NULL
};
